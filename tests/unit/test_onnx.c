/* The ONNX reader: weight payloads are dropped without changing anything else, truncated,
 * corrupted and hostile files fail with a message naming the file (never a crash), and the
 * fuzz corpus and its findings in tests/fixtures/onnx/ keep reading cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/macs.h"
#include "model/onnx_read.h"
#include "test_onnx_builder.h"

/* Initializers of every payload kind, a big tensor nested inside a Constant's attribute, and
 * small int64 constants that must survive. */
static Onnx__ModelProto *payload_model(void)
{
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x256");
	Onnx__TensorProto *w = ob_init(m, "w", "256x400"); /* 409,600 bytes of raw_data */
	for (size_t i = 0; i < w->raw_data.len; i++)
		w->raw_data.data[i] = (uint8_t)(i * 7);
	size_t n;
	Onnx__TensorProto *f = ob_tensor("f", 1, "4000", &n); /* 16,000 bytes of packed float_data */
	f->n_float_data = n;
	f->float_data = ob_alloc(n * sizeof(float));
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, f);
	int64_t shape[] = {0, -1};
	ob_init_i64(m, "shape", 2, shape);
	ob_node(m, "MatMul", "mm", "x,w", "y");
	Onnx__NodeProto *c = ob_node(m, "Constant", "table", "", "t");
	Onnx__TensorProto *t = ob_tensor("t", 1, "3000", &n); /* 12,000 bytes nested three deep */
	t->has_raw_data = 1;
	t->raw_data.len = n * 4;
	t->raw_data.data = ob_alloc(n * 4);
	ob_attr_tensor(c, "value", t);
	Onnx__NodeProto *r = ob_node(m, "Reshape", "reshape", "y,shape", "z");
	ob_attr_int(r, "allowzero", 0);
	return m;
}

static void empty_payloads(Onnx__ModelProto *m)
{
	Onnx__GraphProto *g = m->graph;
	free(g->initializer[0]->raw_data.data);
	g->initializer[0]->raw_data.data = NULL;
	g->initializer[0]->raw_data.len = 0;
	free(g->initializer[1]->float_data);
	g->initializer[1]->float_data = NULL;
	g->initializer[1]->n_float_data = 0;
	Onnx__TensorProto *t = g->node[1]->attribute[0]->t;
	free(t->raw_data.data);
	t->raw_data.data = NULL;
	t->raw_data.len = 0;
}

static void test_payloads_are_dropped_and_nothing_else(void **state)
{
	(void)state;
	Onnx__ModelProto *m = payload_model();
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	struct onnx_file f;
	char err[256];
	assert_int_equal(onnx_file_read_buffer(&f, buf, len, "p.onnx", 0, err, sizeof err), 0);
	assert_int_equal(f.stripped_fields, 3);
	assert_int_equal(f.stripped_bytes, 409600 + 16000 + 12000);
	Onnx__GraphProto *g = f.model->graph;
	assert_true(g->initializer[0]->has_raw_data);
	assert_int_equal(g->initializer[0]->raw_data.len, 0);
	assert_int_equal(g->initializer[0]->n_dims, 2);
	assert_int_equal(g->initializer[0]->dims[1], 400);
	assert_int_equal(g->initializer[2]->raw_data.len, 16); /* the small shape stays */
	assert_int_equal(g->node[1]->attribute[0]->t->raw_data.len, 0);

	/* Everything else is byte for byte what was written. */
	size_t got_len;
	uint8_t *got = ob_pack(f.model, &got_len);
	empty_payloads(m);
	size_t want_len;
	uint8_t *want = ob_pack(m, &want_len);
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
	onnx_file_release(&f);

	/* Without stripping, protobuf-c copies the payloads. */
	assert_int_equal(onnx_file_read_buffer(&f, buf, len, "p.onnx", ONNX_READ_NO_STRIP, err, sizeof err),
	                 0);
	assert_int_equal(f.model->graph->initializer[0]->raw_data.len, 409600);
	assert_int_equal(f.model->graph->initializer[0]->raw_data.data[13], (uint8_t)(13 * 7));
	assert_int_equal(f.stripped_bytes, 0);
	onnx_file_release(&f);
	free(buf);
	ob_free(m);
}

static void test_counts_do_not_depend_on_payloads(void **state)
{
	(void)state;
	Onnx__ModelProto *m = payload_model();
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	ob_free(m);
	struct gops_macs_result r;
	char err[256];
	assert_int_equal(gops_macs_count_buffer(buf, len, "p.onnx", NULL, &r, err, sizeof err), 0);
	assert_int_equal(r.params, 256 * 400 + 4000 + 3000);
	assert_int_equal(r.constant_params, 3000);
	assert_int_equal(r.macs, 256 * 400);
	assert_true(r.complete);
	assert_int_equal(r.stripped_bytes, 437600);
	gops_macs_result_release(&r);
	free(buf);
}

/* Every prefix of a model either reads (a cut between fields) or fails with a message naming
 * the file; ASan builds check that nothing is read out of bounds. */
static void test_every_truncation(void **state)
{
	(void)state;
	Onnx__ModelProto *m = payload_model();
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	ob_free(m);
	size_t failed = 0;
	for (size_t cut = 0; cut < len; cut += cut < 4096 ? 1 : 997) {
		uint8_t *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees overreads */
		memcpy(copy, buf, cut);
		struct gops_macs_result r;
		char err[256] = "";
		int rc = gops_macs_count_buffer(copy, cut, "cut.onnx", NULL, &r, err, sizeof err);
		if (rc) {
			failed++;
			if (!strstr(err, "'cut.onnx'"))
				fail_msg("cut at %zu: message without the file name: %s", cut, err);
		}
		gops_macs_result_release(&r);
		free(copy);
	}
	assert_true(failed > 4000); /* nearly every cut lands inside a field */
	free(buf);
}

static void test_bit_flips_never_crash(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x3x8x8");
	ob_init(m, "w", "4x3x3x3");
	Onnx__NodeProto *n = ob_node(m, "Conv", "conv", "x,w", "y");
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	ob_node(m, "Relu", "relu", "y", "z");
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	ob_free(m);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			uint8_t *copy = malloc(len);
			memcpy(copy, buf, len);
			copy[i] ^= (uint8_t)(1u << bit);
			struct gops_macs_result r;
			char err[256];
			int rc = gops_macs_count_buffer(copy, len, "flip.onnx", NULL, &r, err, sizeof err);
			if (rc && !strstr(err, "'flip.onnx'"))
				fail_msg("flip %zu/%d: message without the file name: %s", i, bit, err);
			gops_macs_result_release(&r);
			free(copy);
		}
	free(buf);
}

static void test_hostile_wire_format(void **state)
{
	(void)state;
	struct onnx_file f;
	char err[256];
	static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                      0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	assert_int_equal(
	    onnx_file_read_buffer(&f, long_varint, sizeof long_varint, "v.onnx", 0, err, sizeof err),
	    -EINVAL);
	assert_string_equal(err, "'v.onnx' is not a valid ONNX model: truncated integer at byte 0");
	static const uint8_t huge_len[] = {0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	assert_int_equal(onnx_file_read_buffer(&f, huge_len, sizeof huge_len, "l.onnx", 0, err, sizeof err),
	                 -EINVAL);
	assert_non_null(strstr(err, "runs past the end"));
	static const uint8_t group[] = {0x0b, 0x0c};
	assert_int_equal(onnx_file_read_buffer(&f, group, sizeof group, "g.onnx", 0, err, sizeof err),
	                 -EINVAL);
	assert_non_null(strstr(err, "unsupported wire type"));
	static const uint8_t field0[] = {0x00, 0x01};
	assert_int_equal(onnx_file_read_buffer(&f, field0, sizeof field0, "z.onnx", 0, err, sizeof err),
	                 -EINVAL);
	static const uint8_t no_graph[] = {0x08, 0x08};
	assert_int_equal(onnx_file_read_buffer(&f, no_graph, sizeof no_graph, "n.onnx", 0, err, sizeof err),
	                 -EINVAL);
	assert_string_equal(err, "'n.onnx' is not an ONNX model: it has no graph");
	/* A message field sent as an integer: the walker copies it, protobuf-c refuses it. */
	static const uint8_t wrong_type[] = {0x38, 0x01};
	assert_int_equal(
	    onnx_file_read_buffer(&f, wrong_type, sizeof wrong_type, "w.onnx", 0, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'w.onnx' is not a valid ONNX model: protobuf decoding failed");
}

/* Graphs inside attributes inside graphs, deeper than the reader accepts. */
static void test_nesting_limit(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	Onnx__GraphProto *g = m->graph;
	for (int depth = 0; depth < 30; depth++) {
		Onnx__NodeProto *n = ob_alloc(sizeof *n);
		onnx__node_proto__init(n);
		n->op_type = ob_strdup("If");
		OB_PUSH(g->node, g->n_node, n);
		Onnx__AttributeProto *a = ob_alloc(sizeof *a);
		onnx__attribute_proto__init(a);
		a->name = ob_strdup("then_branch");
		a->g = ob_alloc(sizeof *a->g);
		onnx__graph_proto__init(a->g);
		OB_PUSH(n->attribute, n->n_attribute, a);
		g = a->g;
	}
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	ob_free(m);
	struct onnx_file f;
	char err[256];
	assert_int_equal(onnx_file_read_buffer(&f, buf, len, "deep.onnx", 0, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "'deep.onnx' is not a valid ONNX model: messages nested too deeply"));
	free(buf);
}

static void test_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_onnx.XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/model.onnx", dir);
	Onnx__ModelProto *m = payload_model();
	assert_int_equal(ob_write(m, path), 0);
	ob_free(m);
	struct gops_macs_result r;
	char err[512];
	assert_int_equal(gops_macs_count(path, NULL, &r, err, sizeof err), 0);
	assert_int_equal(r.macs, 256 * 400);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(r.file_bytes, (uint64_t)st.st_size);
	gops_macs_result_release(&r);

	char missing[300];
	snprintf(missing, sizeof missing, "%s/missing.onnx", dir);
	assert_int_equal(gops_macs_count(missing, NULL, &r, err, sizeof err), -ENOENT);
	char want[600];
	snprintf(want, sizeof want, "cannot read '%s': %s", missing, strerror(ENOENT));
	assert_string_equal(err, want);
	assert_int_equal(gops_macs_count(dir, NULL, &r, err, sizeof err), -EISDIR);
	gops_macs_result_release(&r);

	/* A pipe cannot be mapped: it is read instead. */
	char fifo[300];
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *out = fopen(fifo, "w"), *in = fopen(path, "r");
		char b[65536];
		size_t n;
		while ((n = fread(b, 1, sizeof b, in)) > 0)
			fwrite(b, 1, n, out);
		_exit(fclose(out) != 0);
	}
	assert_int_equal(gops_macs_count(fifo, NULL, &r, err, sizeof err), 0);
	int wst;
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_int_equal(wst, 0);
	assert_int_equal(r.macs, 256 * 400);
	gops_macs_result_release(&r);
	unlink(fifo);
	unlink(path);
	rmdir(dir);
}

/* The fuzz corpus and the crashers the fuzzer found stay harmless. */
static void test_corpus_and_regressions(void **state)
{
	(void)state;
	const char *tests = getenv("TESTS_DIR") ? getenv("TESTS_DIR") : "tests";
	const char *subdirs[] = {"fixtures/onnx/corpus", "fixtures/onnx/regress"};
	size_t seen = 0;
	for (size_t s = 0; s < 2; s++) {
		char dpath[1024];
		snprintf(dpath, sizeof dpath, "%s/%s", tests, subdirs[s]);
		DIR *d = opendir(dpath);
		if (!d) {
			if (s == 0)
				fail_msg("cannot open %s", dpath);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char p[2048];
			snprintf(p, sizeof p, "%s/%s", dpath, e->d_name);
			struct gops_macs_result r;
			char err[512] = "";
			int rc = gops_macs_count(p, NULL, &r, err, sizeof err);
			if (rc && !strstr(err, e->d_name))
				fail_msg("%s: message without the file name: %s", p, err);
			gops_macs_result_release(&r);
			seen++;
		}
		closedir(d);
	}
	assert_true(seen >= 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_payloads_are_dropped_and_nothing_else),
	    cmocka_unit_test(test_counts_do_not_depend_on_payloads),
	    cmocka_unit_test(test_every_truncation),
	    cmocka_unit_test(test_bit_flips_never_crash),
	    cmocka_unit_test(test_hostile_wire_format),
	    cmocka_unit_test(test_nesting_limit),
	    cmocka_unit_test(test_files),
	    cmocka_unit_test(test_corpus_and_regressions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
