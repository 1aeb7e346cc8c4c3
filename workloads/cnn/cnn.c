/* A small convolutional network (two 3x3 convolutions, pooling, a dense layer) running
 * inference on synthetic 32x32x3 images, the embedded workload of `make demo`, in two
 * architectures of different width (so different MACs and MACs per parameter). Each batch
 * also pays a fixed cost, the weights streamed once per batch as an accelerator reads them,
 * which is what makes larger batches cheaper per sample. Under `greenops run` it tags the run
 * with its MACs and parameters and marks each batch as a window with the batch's samples as
 * units, through the control socket in $GREENOPS_CONTROL.
 *   cnn-demo [--batch N] [--seconds S] [--arch small|wide] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define H       32
#define W       32
#define C0      3
#define CLASSES 10
/* The per-batch cost, in reads of every weight: about the compute of BATCH_COST_SAMPLES
 * samples, whatever the architecture. */
#define BATCH_COST_SAMPLES 4
static long weight_passes;

static int C1 = 16, C2 = 32;
static float *w1, *w2, *fc;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static float frand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* 3x3 convolution, padding 1, ReLU, then 2x2 max pooling. */
static void conv_relu_pool(int cin, int cout, int h, int w, const float *in, const float *wt, float *out)
{
	float *tmp = malloc(sizeof(float) * h * w);
	for (int co = 0; co < cout; co++) {
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				float acc = 0;
				for (int ci = 0; ci < cin; ci++)
					for (int ky = 0; ky < 3; ky++)
						for (int kx = 0; kx < 3; kx++) {
							int yy = y + ky - 1, xx = x + kx - 1;
							if (yy >= 0 && yy < h && xx >= 0 && xx < w)
								acc +=
								    in[(ci * h + yy) * w + xx] *
								    wt[((co * cin + ci) * 3 + ky) * 3 + kx];
						}
				tmp[y * w + x] = acc > 0 ? acc : 0;
			}
		for (int y = 0; y < h / 2; y++)
			for (int x = 0; x < w / 2; x++) {
				float m = tmp[2 * y * w + 2 * x];
				if (tmp[2 * y * w + 2 * x + 1] > m)
					m = tmp[2 * y * w + 2 * x + 1];
				if (tmp[(2 * y + 1) * w + 2 * x] > m)
					m = tmp[(2 * y + 1) * w + 2 * x];
				if (tmp[(2 * y + 1) * w + 2 * x + 1] > m)
					m = tmp[(2 * y + 1) * w + 2 * x + 1];
				out[(co * (h / 2) + y) * (w / 2) + x] = m;
			}
	}
	free(tmp);
}

static int control = -1;

static void say(const char *fmt, long long a, const char *name)
{
	if (control < 0)
		return;
	char line[128];
	int n = snprintf(line, sizeof line, fmt, name, a);
	if (write(control, line, (size_t)n) != n) {
		close(control);
		control = -1;
	}
}

/* Streams every weight weight_passes times; the sum keeps the compiler from skipping it. */
static float stream_weights(size_t n1, size_t n2, size_t n3)
{
	float s = 0;
	for (long p = 0; p < weight_passes; p++) {
		for (size_t i = 0; i < n1; i++)
			s += w1[i];
		for (size_t i = 0; i < n2; i++)
			s += w2[i];
		for (size_t i = 0; i < n3; i++)
			s += fc[i];
	}
	return s;
}

int main(int argc, char **argv)
{
	int batch = 8;
	double seconds = 3;
	const char *arch = "wide";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--arch") && i + 1 < argc)
			arch = argv[++i];
		else {
			fprintf(stderr, "usage: cnn-demo [--batch N] [--seconds S] [--arch small|wide]\n");
			return 2;
		}
	}
	if (!strcmp(arch, "small"))
		C1 = 8, C2 = 16;
	else if (strcmp(arch, "wide")) {
		fprintf(stderr, "cnn-demo: --arch is small or wide, not '%s'\n", arch);
		return 2;
	}
	if (batch < 1 || batch > 4096 || !(seconds > 0)) {
		fprintf(stderr, "cnn-demo: --batch must be 1..4096 and --seconds positive\n");
		return 2;
	}
	const char *path = getenv("GREENOPS_CONTROL");
	if (path) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
		control = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (control >= 0 && connect(control, (struct sockaddr *)&sa, sizeof sa) < 0) {
			close(control);
			control = -1;
		}
	}
	size_t n1 = (size_t)C1 * C0 * 9, n2 = (size_t)C2 * C1 * 9,
	       n3 = (size_t)CLASSES * C2 * (H / 4) * (W / 4);
	w1 = malloc(sizeof(float) * n1);
	w2 = malloc(sizeof(float) * n2);
	fc = malloc(sizeof(float) * n3);
	unsigned seed = 42;
	for (size_t i = 0; i < n1; i++)
		w1[i] = frand(&seed) * 0.3f;
	for (size_t i = 0; i < n2; i++)
		w2[i] = frand(&seed) * 0.1f;
	for (size_t i = 0; i < n3; i++)
		fc[i] = frand(&seed) * 0.01f;
	/* MACs per sample: each convolution's output pixels x its kernel, then the dense layer. */
	long long params = (long long)(n1 + n2 + n3);
	long long macs =
	    (long long)H * W * (long long)n1 + (long long)(H / 2) * (W / 2) * (long long)n2 + (long long)n3;
	weight_passes = BATCH_COST_SAMPLES * macs / params;
	if (control >= 0) {
		char line[160];
		int n = snprintf(line, sizeof line,
		                 "tag arch=%s\ntag macs=%lld\ntag params=%lld\ntag macs_per_param=%.6g\n",
		                 arch, macs, params, (double)macs / (double)params);
		if (write(control, line, (size_t)n) != n) {
			close(control);
			control = -1;
		}
	}
	float *img = malloc(sizeof(float) * batch * C0 * H * W);
	float *a1 = malloc(sizeof(float) * C1 * (H / 2) * (W / 2));
	float *a2 = malloc(sizeof(float) * C2 * (H / 4) * (W / 4));
	long long samples = 0, batches = 0;
	unsigned checksum = 0;
	double t_end = now_s() + seconds;
	while (now_s() < t_end) {
		for (int i = 0; i < batch * C0 * H * W; i++)
			img[i] = frand(&seed);
		say("begin %s %lld\n", now_ns(), "batch");
		checksum += stream_weights(n1, n2, n3) > 0;
		for (int b = 0; b < batch; b++) {
			conv_relu_pool(C0, C1, H, W, img + (size_t)b * C0 * H * W, w1, a1);
			conv_relu_pool(C1, C2, H / 2, W / 2, a1, w2, a2);
			int best = 0;
			float bestv = -1e30f;
			for (int k = 0; k < CLASSES; k++) {
				float v = 0;
				for (int j = 0; j < C2 * (H / 4) * (W / 4); j++)
					v += fc[(size_t)k * C2 * (H / 4) * (W / 4) + j] * a2[j];
				if (v > bestv)
					bestv = v, best = k;
			}
			checksum = checksum * 31 + (unsigned)best;
		}
		say("units %2$lld %1$s\n", batch, "batch");
		say("end %s %lld\n", now_ns(), "batch");
		samples += batch;
		batches++;
	}
	fprintf(stderr, "cnn-demo: %s, %lld samples in %lld batches of %d (checksum %08x)\n", arch, samples,
	        batches, batch, checksum);
	if (control >= 0) {
		char line[64];
		int n = snprintf(line, sizeof line, "units %lld\n", samples);
		if (write(control, line, (size_t)n) != n)
			return 1;
	}
	free(img);
	free(a1);
	free(a2);
	free(w1);
	free(w2);
	free(fc);
	return 0;
}
