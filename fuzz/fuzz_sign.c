/*
 * cfs_sign (src/sign.c) over arbitrary header values, keys, timestamps and
 * bodies, without Lua.
 *
 * Invariants: no crash; it fails exactly when an input is outside the
 * documented limits (timestamp before 1970 or past 9999, service of 32
 * bytes or more, host or content type over 400, secret key over 256, an
 * Authorization that would not fit); otherwise the Authorization has the
 * TC3 layout, its signature equals one computed here independently with
 * OpenSSL's one-shot digest and MAC, the canonical request is the one the
 * protocol lays out, and signing again (after a different key has moved
 * the signer's cache, and with a fresh signer) gives the same bytes.
 *
 * Input: six fields, each a 2-byte big-endian length then its bytes
 * (secret_id, secret_key, service, host, content_type; NULs removed from
 * all but the key), an 8-byte timestamp, then the body (the rest).
 */
#include "sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_SIZE 1024
#define FIELD_MAX 2048

typedef struct reader {
	const uint8_t *p, *end;
} reader;

/* The next length-prefixed field into out (NUL-terminated). */
static size_t take(reader *r, char *out, int keep_nul)
{
	size_t want = 0, i, n = 0;

	if (r->end - r->p >= 2) {
		want = (size_t)r->p[0] << 8 | r->p[1];
		r->p += 2;
	}
	if (want > (size_t)(r->end - r->p))
		want = (size_t)(r->end - r->p);
	if (want > FIELD_MAX - 1)
		want = FIELD_MAX - 1;
	for (i = 0; i < want; i++)
		if (keep_nul || r->p[i] != 0)
			out[n++] = (char)r->p[i];
	r->p += want;
	out[n] = '\0';
	return n;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_sign: %s\n", what);
	abort();
}

static void hex(const unsigned char *bin, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", bin[i]);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int md_len = 0;

	if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL))
		die("EVP_Digest");
	hex(md, 32, out);
}

static void mac(const void *key, size_t key_len, const char *msg,
		size_t msg_len, unsigned char out[32])
{
	unsigned int out_len = 0;

	if (HMAC(EVP_sha256(), key, (int)key_len,
		 (const unsigned char *)msg, msg_len, out, &out_len) == NULL)
		die("HMAC");
}

/* The canonical request, laid out from the protocol's description. */
static char *expected_canonical(const cfs_sign_input *in)
{
	char payload[65];
	size_t size = strlen(in->content_type) + strlen(in->host) + 160;
	char *out = malloc(size);

	if (out == NULL)
		die("malloc");
	sha256_hex(in->body, in->body_len, payload);
	snprintf(out, size, "POST\n/\n\ncontent-type:%s\nhost:%s\n\n"
		 "content-type;host\n%s", in->content_type, in->host, payload);
	return out;
}

/* The whole Authorization value, computed independently. */
static void expected_auth(const cfs_sign_input *in, const char *day,
			  char *auth, size_t size)
{
	char *canonical = expected_canonical(in), canonical_hex[65];
	char *to_sign = malloc(512), signature[65];
	unsigned char k[32];
	char *first = malloc(in->secret_key_len + 4);

	if (to_sign == NULL || first == NULL)
		die("malloc");
	sha256_hex(canonical, strlen(canonical), canonical_hex);
	snprintf(to_sign, 512, "TC3-HMAC-SHA256\n%lld\n%s/%s/tc3_request\n%s",
		 (long long)in->timestamp, day, in->service, canonical_hex);
	memcpy(first, "TC3", 3);
	memcpy(first + 3, in->secret_key, in->secret_key_len);
	mac(first, in->secret_key_len + 3, day, 10, k);
	mac(k, 32, in->service, strlen(in->service), k);
	mac(k, 32, "tc3_request", 11, k);
	mac(k, 32, to_sign, strlen(to_sign), k);
	hex(k, 32, signature);
	snprintf(auth, size, "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, "
		 "SignedHeaders=content-type;host, Signature=%s",
		 in->secret_id, day, in->service, signature);
	free(canonical);
	free(to_sign);
	free(first);
}

static int should_fail(const cfs_sign_input *in)
{
	return in->timestamp < 0 || in->timestamp > 253402300799LL ||
	       strlen(in->service) >= 32 || strlen(in->host) > 400 ||
	       strlen(in->content_type) > 400 || in->secret_key_len > 256 ||
	       strlen(in->secret_id) + 256 > AUTH_SIZE;
}

static cfs_signer *signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	signer = cfs_signer_new();
	if (signer == NULL)
		die("cfs_signer_new");
	return 0;
}

/* Signs with another key, so the next call cannot reuse the cache. */
static void disturb_cache(const cfs_sign_input *in)
{
	cfs_sign_input other = *in;
	char auth[AUTH_SIZE];

	other.secret_key = "another key";
	other.secret_key_len = 11;
	cfs_sign(signer, &other, NULL, auth, sizeof(auth));
}

static void check_success(const cfs_sign_input *in, const char *auth,
			  const cfs_sign_steps *steps)
{
	char want[4096], day[11], again[AUTH_SIZE], *canonical, *expected;
	cfs_sign_steps steps2;
	cfs_signer *fresh;

	if (cfs_utc_day(in->timestamp, day) != 0)
		die("signed with a timestamp cfs_utc_day refuses");
	expected_auth(in, day, want, sizeof(want));
	if (strcmp(auth, want) != 0)
		die("Authorization differs from the independent one");
	if (strlen(steps->signature) != 64 ||
	    strstr(auth, steps->signature) == NULL)
		die("steps.signature");

	canonical = cfs_canonical_request(signer, in);
	expected = expected_canonical(in);
	if (canonical == NULL || strcmp(canonical, expected) != 0)
		die("canonical request");
	free(canonical);
	free(expected);

	disturb_cache(in);
	memset(&steps2, 0, sizeof(steps2));
	if (cfs_sign(signer, in, &steps2, again, sizeof(again)) != 0 ||
	    strcmp(again, auth) != 0 || memcmp(&steps2, steps,
					       sizeof(steps2)) != 0)
		die("not deterministic after the cache moved");
	/* A fresh signer costs OpenSSL fetches: one input in eight. */
	if (in->body_len % 8 != 0)
		return;
	fresh = cfs_signer_new();
	if (fresh == NULL ||
	    cfs_sign(fresh, in, NULL, again, sizeof(again)) != 0 ||
	    strcmp(again, auth) != 0)
		die("a fresh signer signs differently");
	cfs_signer_free(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char id[FIELD_MAX], key[FIELD_MAX], service[FIELD_MAX];
	static char host[FIELD_MAX], content_type[FIELD_MAX];
	reader r = { data, data + size };
	cfs_sign_input in;
	cfs_sign_steps steps;
	char auth[AUTH_SIZE];
	uint64_t ts = 0;
	int i, rc;

	take(&r, id, 0);
	in.secret_key_len = take(&r, key, 1);
	take(&r, service, 0);
	take(&r, host, 0);
	take(&r, content_type, 0);
	for (i = 0; i < 8; i++)
		ts = ts << 8 | (r.p < r.end ? *r.p++ : 0);
	in.secret_id = id;
	in.secret_key = key;
	in.timestamp = (int64_t)ts;
	in.service = service;
	in.host = host;
	in.content_type = content_type;
	in.body = (const char *)r.p;
	in.body_len = (size_t)(r.end - r.p);

	/* Zeroed, so the steps can be compared whole: the strings in them
	 * leave bytes unwritten. */
	memset(&steps, 0, sizeof(steps));
	rc = cfs_sign(signer, &in, &steps, auth, sizeof(auth));
	if (rc != 0 && rc != -1)
		die("cfs_sign returned neither 0 nor -1");
	if ((rc != 0) != should_fail(&in))
		die(rc ? "refused an input within the limits"
		       : "signed an input past the limits");
	if (rc == 0)
		check_success(&in, auth, &steps);
	return 0;
}
