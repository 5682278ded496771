/*
 * The baseline for bench/batch_throughput.lua: a plain libcurl multi loop
 * that keeps IN_FLIGHT transfers of one pre-signed request going until N
 * have finished, doing nothing else. An answer that is not HTTP 200 or
 * that holds an "Error" counts as failed. Prints calls a second and the
 * failures.
 *   curl_multi URL HEADERS_FILE BODY_FILE N IN_FLIGHT
 */
#define _POSIX_C_SOURCE 200809L

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_SIZE 4096

typedef struct handle {
	CURL *easy;
	char answer[ANSWER_SIZE];
	size_t len;
} handle;


static size_t keep(char *data, size_t size, size_t n, void *ud)
{
	handle *h = ud;
	size_t len = size * n, room = ANSWER_SIZE - 1 - h->len;

	if (len < room)
		room = len;
	memcpy(h->answer + h->len, data, room);
	h->len += room;
	h->answer[h->len] = '\0';
	return len;
}


static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long size;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0) {
		rewind(f);
		data = malloc((size_t)size + 1);
		if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
			free(data);
			data = NULL;
		}
		if (data) {
			data[size] = '\0';
			*len = (size_t)size;
		}
	}
	fclose(f);
	return data;
}


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static void start(CURLM *multi, handle *h)
{
	h->len = 0;
	h->answer[0] = '\0';
	curl_multi_add_handle(multi, h->easy);
}


/* Whether the finished transfer of `h` got a good answer. */
static int succeeded(handle *h, CURLcode rc)
{
	long status = 0;

	if (rc != CURLE_OK)
		return 0;
	curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
	return status == 200 && strstr(h->answer, "\"Error\"") == NULL;
}


int main(int argc, char **argv)
{
	struct curl_slist *headers = NULL;
	size_t headers_len = 0, body_len = 0;
	char *header_text, *body, *line, *save = NULL;
	long n, in_flight, started = 0, done = 0, failed = 0, i;
	handle *handles;
	CURLM *multi;
	double t0, seconds;

	if (argc != 6) {
		fprintf(stderr, "usage: curl_multi URL HEADERS BODY N "
				"IN_FLIGHT\n");
		return 2;
	}
	n = atol(argv[4]);
	in_flight = atol(argv[5]);
	header_text = slurp(argv[2], &headers_len);
	body = slurp(argv[3], &body_len);
	handles = in_flight > 0 ? calloc((size_t)in_flight, sizeof(*handles))
				: NULL;
	if (header_text == NULL || body == NULL || handles == NULL || n <= 0) {
		fprintf(stderr, "curl_multi: bad arguments\n");
		free(header_text);
		free(body);
		free(handles);
		return 2;
	}
	for (line = strtok_r(header_text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		headers = curl_slist_append(headers, line);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	for (i = 0; i < in_flight; i++) {
		CURL *e = curl_easy_init();

		handles[i].easy = e;
		curl_easy_setopt(e, CURLOPT_URL, argv[1]);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body_len);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &handles[i]);
		curl_easy_setopt(e, CURLOPT_PRIVATE, &handles[i]);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	}

	t0 = now();
	for (i = 0; i < in_flight && started < n; i++, started++)
		start(multi, &handles[i]);
	while (done < n) {
		int running = 0, left = 0;
		CURLMsg *msg;

		curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			handle *h = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&h);
			if (!succeeded(h, msg->data.result))
				failed++;
			done++;
			curl_multi_remove_handle(multi, h->easy);
			if (started < n) {
				start(multi, h);
				started++;
			}
		}
		if (done < n)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	seconds = now() - t0;
	printf("%.1f %ld\n", (double)n / seconds, failed);

	for (i = 0; i < in_flight; i++)
		curl_easy_cleanup(handles[i].easy);
	curl_multi_cleanup(multi);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	free(handles);
	free(header_text);
	free(body);
	return failed ? 1 : 0;
}
