/*
 * TC3-HMAC-SHA256 request signing with OpenSSL.
 *
 * A signer owns its digest contexts and caches the derived signing key for
 * one (secret key, UTC day, service): the HMAC chain that derives it is the
 * most expensive part of a signature and changes once a day.
 */
#ifndef CFS_SIGN_H
#define CFS_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CFS_SHA256_LEN 32
#define CFS_SHA256_HEX 64

typedef struct cfs_signer cfs_signer;

/* What one signature needs. Every string is NUL-free except body. */
typedef struct cfs_sign_input {
	const char *secret_id;
	const char *secret_key;
	size_t secret_key_len;
	int64_t timestamp;
	const char *service;
	const char *host;
	const char *content_type;
	const char *body;
	size_t body_len;
} cfs_sign_input;

/* The intermediate values, for tests and dry runs; all NUL-terminated. */
typedef struct cfs_sign_steps {
	char hashed_payload[CFS_SHA256_HEX + 1];
	char credential_scope[64 + 11];
	char canonical_request_sha256[CFS_SHA256_HEX + 1];
	char signature[CFS_SHA256_HEX + 1];
} cfs_sign_steps;

cfs_signer *cfs_signer_new(void);
void cfs_signer_free(cfs_signer *s);

/*
 * Signs `in`; writes the Authorization value into `auth` (NUL-terminated,
 * at most `auth_size` bytes) and, when `steps` is not NULL, the
 * intermediate values. Returns 0, or -1 when OpenSSL fails or a field does
 * not fit (the caller raises).
 */
int cfs_sign(cfs_signer *s, const cfs_sign_input *in, cfs_sign_steps *steps,
	     char *auth, size_t auth_size);

/* The canonical request for `in`, in a buffer the caller frees. */
char *cfs_canonical_request(cfs_signer *s, const cfs_sign_input *in);

/* The UTC day of a timestamp as YYYY-MM-DD; -1 when out of range. */
int cfs_utc_day(int64_t timestamp, char day[11]);

#endif
