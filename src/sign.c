/*
 * TC3-HMAC-SHA256, step by step: canonical request, credential scope,
 * string to sign, derived key, signature. OpenSSL does every hash and HMAC;
 * this file only lays the bytes out in the order the protocol fixes.
 */
#define _POSIX_C_SOURCE 200809L

#include "sign.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALGORITHM "TC3-HMAC-SHA256"
#define SIGNED_HEADERS "content-type;host"
#define MAX_SECRET_KEY 256

struct cfs_signer {
	EVP_MD *sha256;
	EVP_MAC *hmac;
	EVP_MD_CTX *md_ctx;
	EVP_MAC_CTX *mac_ctx;

	/* The cached signing key and what it was derived from. */
	int cached;
	unsigned char cached_secret[MAX_SECRET_KEY];
	size_t cached_secret_len;
	char cached_day[11];
	char cached_service[32];
	unsigned char signing_key[CFS_SHA256_LEN];
};


cfs_signer *cfs_signer_new(void)
{
	cfs_signer *s = calloc(1, sizeof(*s));
	OSSL_PARAM params[2];

	if (s == NULL)
		return NULL;
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->md_ctx = EVP_MD_CTX_new();
	if (s->sha256 == NULL || s->hmac == NULL || s->md_ctx == NULL)
		goto fail;
	s->mac_ctx = EVP_MAC_CTX_new(s->hmac);
	if (s->mac_ctx == NULL)
		goto fail;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(s->mac_ctx, params))
		goto fail;
	return s;

fail:
	cfs_signer_free(s);
	return NULL;
}


void cfs_signer_free(cfs_signer *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s->cached_secret, sizeof(s->cached_secret));
	OPENSSL_cleanse(s->signing_key, sizeof(s->signing_key));
	EVP_MAC_CTX_free(s->mac_ctx);
	EVP_MD_CTX_free(s->md_ctx);
	EVP_MAC_free(s->hmac);
	EVP_MD_free(s->sha256);
	free(s);
}


int cfs_utc_day(int64_t timestamp, char day[11])
{
	struct tm tm;
	time_t t = (time_t)timestamp;

	/* Years past 9999 would not fit YYYY-MM-DD. */
	if (timestamp < 0 || timestamp > 253402300799LL)
		return -1;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(day, 11, "%Y-%m-%d", &tm) != 10)
		return -1;
	return 0;
}


static void to_hex(const unsigned char *bin, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[bin[i] >> 4];
		hex[2 * i + 1] = digits[bin[i] & 15];
	}
	hex[2 * n] = '\0';
}


static int sha256_hex(cfs_signer *s, const void *data, size_t len,
		      char hex[CFS_SHA256_HEX + 1])
{
	unsigned char md[CFS_SHA256_LEN];
	unsigned int md_len = 0;

	if (!EVP_DigestInit_ex(s->md_ctx, s->sha256, NULL) ||
	    !EVP_DigestUpdate(s->md_ctx, data, len) ||
	    !EVP_DigestFinal_ex(s->md_ctx, md, &md_len))
		return -1;
	to_hex(md, md_len, hex);
	return 0;
}


static int hmac(cfs_signer *s, const unsigned char *key, size_t key_len,
		const char *msg, size_t msg_len,
		unsigned char out[CFS_SHA256_LEN])
{
	size_t out_len = 0;

	if (!EVP_MAC_init(s->mac_ctx, key, key_len, NULL) ||
	    !EVP_MAC_update(s->mac_ctx, (const unsigned char *)msg, msg_len) ||
	    !EVP_MAC_final(s->mac_ctx, out, &out_len, CFS_SHA256_LEN))
		return -1;
	return out_len == CFS_SHA256_LEN ? 0 : -1;
}


static int cache_matches(const cfs_signer *s, const cfs_sign_input *in,
			 const char *day)
{
	return s->cached && s->cached_secret_len == in->secret_key_len &&
	       CRYPTO_memcmp(s->cached_secret, in->secret_key,
			     in->secret_key_len) == 0 &&
	       strcmp(s->cached_day, day) == 0 &&
	       strcmp(s->cached_service, in->service) == 0;
}


/* kSigning = HMAC(HMAC(HMAC("TC3" + key, day), service), "tc3_request") */
static int signing_key(cfs_signer *s, const cfs_sign_input *in,
		       const char *day)
{
	unsigned char first_key[4 + MAX_SECRET_KEY];
	unsigned char k_date[CFS_SHA256_LEN], k_service[CFS_SHA256_LEN];
	int rc;

	if (cache_matches(s, in, day))
		return 0;
	if (in->secret_key_len > MAX_SECRET_KEY ||
	    strlen(in->service) >= sizeof(s->cached_service))
		return -1;

	memcpy(first_key, "TC3", 3);
	memcpy(first_key + 3, in->secret_key, in->secret_key_len);
	rc = hmac(s, first_key, 3 + in->secret_key_len, day, 10, k_date);
	OPENSSL_cleanse(first_key, sizeof(first_key));
	if (rc == 0)
		rc = hmac(s, k_date, sizeof(k_date), in->service,
			  strlen(in->service), k_service);
	if (rc == 0)
		rc = hmac(s, k_service, sizeof(k_service), "tc3_request", 11,
			  s->signing_key);
	OPENSSL_cleanse(k_date, sizeof(k_date));
	OPENSSL_cleanse(k_service, sizeof(k_service));
	if (rc != 0) {
		s->cached = 0;
		return -1;
	}

	memcpy(s->cached_secret, in->secret_key, in->secret_key_len);
	s->cached_secret_len = in->secret_key_len;
	memcpy(s->cached_day, day, 11);
	strcpy(s->cached_service, in->service);
	s->cached = 1;
	return 0;
}


static char *format_canonical(const cfs_sign_input *in,
			      const char *hashed_payload)
{
	static const char format[] = "POST\n/\n\ncontent-type:%s\nhost:%s\n\n"
				     SIGNED_HEADERS "\n%s";
	size_t size = sizeof(format) + strlen(in->content_type) +
		      strlen(in->host) + CFS_SHA256_HEX;
	char *request = malloc(size);

	if (request != NULL)
		snprintf(request, size, format, in->content_type, in->host,
			 hashed_payload);
	return request;
}


char *cfs_canonical_request(cfs_signer *s, const cfs_sign_input *in)
{
	char hashed_payload[CFS_SHA256_HEX + 1];

	if (sha256_hex(s, in->body, in->body_len, hashed_payload) != 0)
		return NULL;
	return format_canonical(in, hashed_payload);
}


int cfs_sign(cfs_signer *s, const cfs_sign_input *in, cfs_sign_steps *steps,
	     char *auth, size_t auth_size)
{
	cfs_sign_steps local;
	cfs_sign_steps *st = steps != NULL ? steps : &local;
	char day[11], string_to_sign[256];
	char *canonical_request;
	unsigned char signature[CFS_SHA256_LEN];
	int n, rc;

	if (cfs_utc_day(in->timestamp, day) != 0 ||
	    strlen(in->service) >= 32)
		return -1;
	snprintf(st->credential_scope, sizeof(st->credential_scope),
		 "%s/%s/tc3_request", day, in->service);

	if (sha256_hex(s, in->body, in->body_len, st->hashed_payload) != 0)
		return -1;
	canonical_request = format_canonical(in, st->hashed_payload);
	if (canonical_request == NULL)
		return -1;
	rc = sha256_hex(s, canonical_request, strlen(canonical_request),
			st->canonical_request_sha256);
	free(canonical_request);
	if (rc != 0)
		return -1;

	n = snprintf(string_to_sign, sizeof(string_to_sign),
		     ALGORITHM "\n%lld\n%s\n%s", (long long)in->timestamp,
		     st->credential_scope, st->canonical_request_sha256);
	if (n < 0 || (size_t)n >= sizeof(string_to_sign))
		return -1;
	if (signing_key(s, in, day) != 0 ||
	    hmac(s, s->signing_key, sizeof(s->signing_key), string_to_sign,
		 (size_t)n, signature) != 0)
		return -1;
	to_hex(signature, sizeof(signature), st->signature);

	n = snprintf(auth, auth_size,
		     ALGORITHM " Credential=%s/%s, SignedHeaders="
		     SIGNED_HEADERS ", Signature=%s",
		     in->secret_id, st->credential_scope, st->signature);
	return n < 0 || (size_t)n >= auth_size ? -1 : 0;
}
