/* The reference point of serve-bench's client-capacity benchmark: the barest open-loop client
 * libcurl's multi interface allows. Poisson arrivals on absolute times, easy handles reused
 * from a pool, curl_multi_perform + curl_multi_poll, and a write callback that only counts
 * "data:" lines. No SSE parsing, no JSON, no per-request record beyond the lateness.
 * Usage: curl_bare URL RATE DURATION_S [SEED]
 *        curl_bare URL closed:C N     (closed loop: N requests, C in flight; lateness 0)
 * Prints: schedule_rate achieved_rate lateness_p99_ms cpu_us_per_request events_per_response */
#include <curl/curl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "open_loop.h"

struct slot {
	CURL *easy;
	long events;
	struct slot *next;
};

static size_t on_write(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct slot *s = ctx;
	size_t n = size * nmemb;
	for (size_t i = 0; i + 5 <= n; i++)
		if (p[i] == 'd' && memcmp(p + i, "data:", 5) == 0)
			s->events++;
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: curl_bare URL RATE DURATION_S [SEED]\n");
		return 2;
	}
	const char *url = argv[1];
	int closed = strncmp(argv[2], "closed:", 7) == 0 ? atoi(argv[2] + 7) : 0;
	double rate = closed ? 1e9 : atof(argv[2]), dur = closed ? atof(argv[3]) / 1e9 : atof(argv[3]);
	unsigned seed = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	size_t n = (size_t)(rate * dur + 0.5);
	if (rate <= 0 || n == 0) {
		fprintf(stderr, "curl_bare: rate and duration must be positive\n");
		return 2;
	}
	int64_t *sched = poisson_schedule(n, rate, seed), *late = malloc(n * sizeof *late);
	if (!sched || !late) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	static const char body[] = "{\"model\":\"bench\",\"prompt\":\"a b c d e f g h\",\"max_tokens\":16,"
	                           "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 1024L);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	struct slot *free_list = NULL;
	long events = 0, done = 0;
	double c0 = cpu_s();
	int64_t t0 = now_ns() + 2000000, t_last = 0;
	size_t next = 0;
	int running = 0;
	while (next < n || running) {
		int64_t now = now_ns();
		while (next < n && (closed ? (long)next - done < closed : t0 + sched[next] <= now)) {
			struct slot *s = free_list;
			if (s) {
				free_list = s->next;
			} else {
				s = calloc(1, sizeof *s);
				s->easy = curl_easy_init();
				curl_easy_setopt(s->easy, CURLOPT_URL, url);
				curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
				curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
				curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_write);
				curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
				curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
				curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
			}
			s->events = 0;
			late[next] = closed ? 0 : now - (t0 + sched[next]);
			curl_multi_add_handle(m, s->easy);
			next++;
		}
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				struct slot *s;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
				events += s->events;
				done++;
				curl_multi_remove_handle(m, s->easy);
				s->next = free_list;
				free_list = s;
				t_last = now_ns();
			}
		if (next == n && !running)
			break;
		now = now_ns();
		int timeout = 100;
		if (next < n && !closed) {
			int64_t wait = t0 + sched[next] - now;
			timeout = wait <= 0 ? 0 : (int)(wait / 1000000);
		}
		curl_multi_poll(m, NULL, 0, timeout, NULL);
	}
	double cpu = cpu_s() - c0;
	qsort(late, n, sizeof *late, cmp_i64);
	double span = (double)sched[n - 1] / 1e9;
	double achieved = (double)done / ((double)(t_last - t0) / 1e9);
	printf("%.0f %.0f %.3f %.2f %.2f\n", (double)(n - 1) / span, achieved,
	       (double)late[(size_t)(0.99 * (double)(n - 1))] / 1e6, cpu / (double)n * 1e6,
	       done ? (double)events / (double)done : 0);
	return 0;
}
