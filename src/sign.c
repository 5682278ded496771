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
	EVP_MAC_CTX *key_ctx; /* keyed with signing_key: reset, not re-keyed */

	/* The cached signing key and what it was derived from. */
	int cached;
	unsigned char cached_secret[MAX_SECRET_KEY];
	size_t cached_secret_len;
	char cached_day[11];
	char cached_service[32];
	unsigned char signing_key[CFS_SHA256_LEN];

	/* The UTC day of the last timestamp, to skip gmtime on most calls. */
	int64_t day_number;
	char day[11];
};

/* Room for the canonical request when host and content type fit. */
#define MAX_HEADER_VALUE 400
#define CANONICAL_SIZE (2 * MAX_HEADER_VALUE + 128)


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
	s->key_ctx = EVP_MAC_CTX_new(s->hmac);
	if (s->mac_ctx == NULL || s->key_ctx == NULL)
		goto fail;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(s->mac_ctx, params) ||
	    !EVP_MAC_CTX_set_params(s->key_ctx, params))
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
	EVP_MAC_CTX_free(s->key_ctx);
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


/* HMAC with the cached signing key: a NULL key restarts the keyed ctx. */
static int keyed_hmac(cfs_signer *s, const char *msg, size_t msg_len,
		      unsigned char out[CFS_SHA256_LEN])
{
	size_t out_len = 0;

	if (!EVP_MAC_init(s->key_ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(s->key_ctx, (const unsigned char *)msg, msg_len) ||
	    !EVP_MAC_final(s->key_ctx, out, &out_len, CFS_SHA256_LEN))
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
static int signing_key(cfs_signer *s, const cfs_sign_input *in, const char *day)
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
	if (rc == 0 && !EVP_MAC_init(s->key_ctx, s->signing_key,
				     sizeof(s->signing_key), NULL))
		rc = -1;
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


static char *put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

#define PUTS(p, s) put((p), (s), sizeof(s) - 1)


/* Writes the canonical request into `out` (CANONICAL_SIZE bytes);
 * returns its length, or 0 when a header value is too long. */
static size_t format_canonical(const cfs_sign_input *in,
			       const char *hashed_payload, char *out)
{
	size_t ct_len = strlen(in->content_type), host_len = strlen(in->host);
	char *p = out;

	if (ct_len > MAX_HEADER_VALUE || host_len > MAX_HEADER_VALUE)
		return 0;
	p = PUTS(p, "POST\n/\n\ncontent-type:");
	p = put(p, in->content_type, ct_len);
	p = PUTS(p, "\nhost:");
	p = put(p, in->host, host_len);
	p = PUTS(p, "\n\n" SIGNED_HEADERS "\n");
	p = put(p, hashed_payload, CFS_SHA256_HEX);
	*p = '\0';
	return (size_t)(p - out);
}


char *cfs_canonical_request(cfs_signer *s, const cfs_sign_input *in)
{
	char hashed_payload[CFS_SHA256_HEX + 1];
	char *request = malloc(CANONICAL_SIZE);

	if (request == NULL ||
	    sha256_hex(s, in->body, in->body_len, hashed_payload) != 0 ||
	    format_canonical(in, hashed_payload, request) == 0) {
		free(request);
		return NULL;
	}
	return request;
}


static const char *day_of(cfs_signer *s, int64_t timestamp)
{
	int64_t number = timestamp / 86400;

	if (timestamp < 0)
		return NULL;
	if (s->day[0] == '\0' || number != s->day_number) {
		if (cfs_utc_day(timestamp, s->day) != 0) {
			s->day[0] = '\0';
			return NULL;
		}
		s->day_number = number;
	}
	return s->day;
}


/* Decimal digits of a non-negative integer; returns the end. */
static char *put_decimal(char *p, int64_t v)
{
	char digits[24];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}


int cfs_sign(cfs_signer *s, const cfs_sign_input *in, cfs_sign_steps *steps,
	     char *auth, size_t auth_size)
{
	cfs_sign_steps local;
	cfs_sign_steps *st = steps != NULL ? steps : &local;
	char canonical_request[CANONICAL_SIZE], string_to_sign[256];
	const char *day = day_of(s, in->timestamp);
	size_t service_len = strlen(in->service), id_len, n;
	unsigned char signature[CFS_SHA256_LEN];
	char *p;

	if (day == NULL || service_len >= 32)
		return -1;
	p = put(st->credential_scope, day, 10);
	p = PUTS(p, "/");
	p = put(p, in->service, service_len);
	p = PUTS(p, "/tc3_request");
	*p = '\0';

	if (sha256_hex(s, in->body, in->body_len, st->hashed_payload) != 0)
		return -1;
	n = format_canonical(in, st->hashed_payload, canonical_request);
	if (n == 0 || sha256_hex(s, canonical_request, n,
				 st->canonical_request_sha256) != 0)
		return -1;

	p = PUTS(string_to_sign, ALGORITHM "\n");
	p = put_decimal(p, in->timestamp);
	p = PUTS(p, "\n");
	p = put(p, st->credential_scope, strlen(st->credential_scope));
	p = PUTS(p, "\n");
	p = put(p, st->canonical_request_sha256, CFS_SHA256_HEX);
	if (signing_key(s, in, day) != 0 ||
	    keyed_hmac(s, string_to_sign, (size_t)(p - string_to_sign),
		       signature) != 0)
		return -1;
	to_hex(signature, sizeof(signature), st->signature);

	id_len = strlen(in->secret_id);
	if (id_len + 256 > auth_size)
		return -1;
	p = PUTS(auth, ALGORITHM " Credential=");
	p = put(p, in->secret_id, id_len);
	p = PUTS(p, "/");
	p = put(p, st->credential_scope, strlen(st->credential_scope));
	p = PUTS(p, ", SignedHeaders=" SIGNED_HEADERS ", Signature=");
	p = put(p, st->signature, CFS_SHA256_HEX);
	*p = '\0';
	return 0;
}
