/*
 * The baseline for bench/sequential.lua: a plain libcurl loop that posts
 * one pre-signed request N times over one kept-alive connection, doing
 * nothing else. Prints calls a second.
 *   curl_loop URL HEADERS_FILE BODY_FILE N
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
	(void)data;
	(void)ud;
	return size * n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	data = malloc((size_t)size + 1);
	if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
		free(data);
		data = NULL;
	}
	fclose(f);
	if (data) {
		data[size] = '\0';
		*len = (size_t)size;
	}
	return data;
}

int main(int argc, char **argv)
{
	struct curl_slist *headers = NULL;
	size_t headers_len, body_len;
	char *header_text, *body, *line, *save = NULL;
	struct timespec t0, t1;
	long status = 0, n, i, failed = 0;
	CURL *easy;
	double seconds;

	if (argc != 5)
		return fprintf(stderr, "usage: curl_loop URL HEADERS BODY N\n"), 2;
	header_text = slurp(argv[2], &headers_len);
	body = slurp(argv[3], &body_len);
	n = atol(argv[4]);
	if (header_text == NULL || body == NULL || n <= 0)
		return fprintf(stderr, "curl_loop: bad arguments\n"), 2;
	for (line = strtok_r(header_text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		headers = curl_slist_append(headers, line);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	easy = curl_easy_init();
	curl_easy_setopt(easy, CURLOPT_URL, argv[1]);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		if (curl_easy_perform(easy) != CURLE_OK)
			failed++;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			failed++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	seconds = (double)(t1.tv_sec - t0.tv_sec) +
		  (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%.1f %ld\n", (double)n / seconds, failed);

	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(header_text);
	free(body);
	return failed ? 1 : 0;
}
