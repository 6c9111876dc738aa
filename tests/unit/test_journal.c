/*
 * The agent's write-ahead journal (agent/journal.c): what recovery reads back after a writer
 * died at any point (records put and removed, a torn last line, a damaged one), that the log
 * of a writer still running is left alone, that what recovery keeps is folded into one log,
 * that a writer's log stays bounded, and that records of the earlier one-file format are read.
 * Writers are child processes that die without closing, as a crashed agent does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"

struct seen {
	int n, problems;
	char keys[16][80];
	char values[16][80];
	char problem[800];
	const char *remove; /* keys with this prefix are removed by fn, as a cleanup that worked */
};

static void collect(void *ctx, const char *key, json_t *rec, const char *problem)
{
	struct seen *s = ctx;

	if (!rec) {
		s->problems++;
		snprintf(s->problem, sizeof(s->problem), "%s", problem);
		return;
	}
	assert_true(s->n < 16);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	snprintf(s->values[s->n], sizeof(s->values[0]), "%s",
		 json_string_value(json_object_get(rec, "v")) ?: "");
	s->n++;
}

static struct journal *jr;
static struct seen *cur;

static void collect_remove(void *ctx, const char *key, json_t *rec, const char *problem)
{
	struct seen *s = ctx;

	collect(ctx, key, rec, problem);
	if (rec && s->remove && !strncmp(key, s->remove, strlen(s->remove)))
		assert_int_equal(journal_remove(jr, key), 0);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fl-journal-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void put(struct journal *j, const char *key, const char *v)
{
	json_t *rec = json_pack("{s:s, s:s}", "type", "network.loss", "v", v);

	assert_int_equal(journal_write(j, key, rec), 0);
	json_decref(rec);
}

/* Run fn in a child that then dies without closing the journal (SIGKILL, as a crash). */
static void crash_after(void (*fn)(struct journal *))
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (!pid) {
		struct journal *j;

		if (journal_open(dir, &j))
			_exit(2);
		fn(j);
		raise(SIGKILL);
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static pid_t gone;

static struct seen recover(const char *remove)
{
	struct seen s = {.remove = remove};
	struct journal *j;
	int lock;

	assert_int_equal(journal_open(dir, &j), 0);
	jr = j;
	cur = &s;
	if (gone)
		journal_writer_gone(j, gone);
	lock = journal_lock(j, 1000);
	assert_true(lock >= 0);
	assert_true(journal_foreach(j, collect_remove, &s) >= 0);
	journal_unlock(lock);
	journal_close(j);
	return s;
}

static int count_files(const char *suffix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		n += l > sl && !strcmp(de->d_name + l - sl, suffix);
	}
	closedir(d);
	return n;
}

static void writes_a(struct journal *j)
{
	put(j, "f-a", "1");
	put(j, "f-b", "1");
	put(j, "f-a", "2"); /* replaces */
	put(j, "f-c", "1");
	assert_int_equal(journal_remove(j, "f-b"), 0);
	assert_int_equal(journal_remove(j, "f-none"), 0); /* never written: nothing */
}

static void test_replay(void **state)
{
	struct seen s;

	(void)state;
	crash_after(writes_a);
	s = recover(NULL);
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "f-a");
	assert_string_equal(s.values[0], "2");
	assert_string_equal(s.keys[1], "f-c");
	/* Nothing removed: both are read again, from the one log they were folded into. */
	s = recover("f-a");
	assert_int_equal(s.n, 2);
	assert_int_equal(count_files(".wal"), 1);
	s = recover(NULL);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "f-c");
	s = recover("f-");
	assert_int_equal(s.n, 1);
	assert_int_equal(count_files(".wal"), 0);
	s = recover(NULL);
	assert_int_equal(s.n, 0);
}

/* Append raw text to the only log in dir. */
static void append_raw(const char *text)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char path[400] = "";
	int fd;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".wal"))
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
	closedir(d);
	assert_true(path[0]);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void writes_one(struct journal *j)
{
	put(j, "f-a", "1");
}

static void test_torn_tail(void **state)
{
	struct seen s;

	(void)state;
	crash_after(writes_one);
	/* A put whose write stopped halfway: its change was never made. */
	append_raw("1234abcd put f-b {\"type\":\"netw");
	s = recover(NULL);
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "f-a");
	assert_int_equal(count_files(".corrupt"), 0);
	recover("f-");
}

static void test_damaged_line(void **state)
{
	struct seen s;

	(void)state;
	crash_after(writes_one);
	/* A whole line with a wrong checksum, followed by another: the file was damaged. */
	append_raw("00000000 put f-x {\"type\":\"network.loss\"}\n");
	append_raw("00000000 put f-y {\"type\":\"network.loss\"}\n");
	s = recover(NULL);
	assert_int_equal(s.problems, 1);
	assert_non_null(strstr(s.problem, "unreadable record at"));
	assert_int_equal(s.n, 1);
	assert_int_equal(count_files(".corrupt"), 1);
	recover("f-");
}

static int ready[2], hold[2];

static void writes_and_waits(struct journal *j)
{
	char c;

	put(j, "f-live", "1");
	assert_int_equal(write(ready[1], "x", 1), 1);
	/* Until the parent closed its end: a writer still running. */
	assert_int_equal(read(hold[0], &c, 1), 0);
}

static void test_live_writer_left_alone(void **state)
{
	struct seen s;
	pid_t pid;
	char c;
	int status;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct journal *j;

		close(hold[1]);
		if (journal_open(dir, &j))
			_exit(2);
		writes_and_waits(j);
		_exit(0); /* without journal_close: its log stays, as a crash leaves it */
	}
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	s = recover("f-");
	assert_int_equal(s.n, 0);
	assert_int_equal(count_files(".wal"), 1);
	/* Another pid said gone changes nothing; the writer's own pid does (a watchdog's kill). */
	gone = pid + 1;
	s = recover(NULL);
	assert_int_equal(s.n, 0);
	gone = pid;
	s = recover(NULL);
	gone = 0;
	assert_int_equal(s.n, 1);
	/* The writer ends: its log (folded into one of no writer) is an earlier run's now. */
	close(hold[1]);
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	s = recover("f-");
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "f-live");
	assert_int_equal(count_files(".wal"), 0);
}

static void writes_many(struct journal *j)
{
	char *big = malloc(64 * 1024 + 1);
	json_t *rec;

	memset(big, 'x', 64 * 1024);
	big[64 * 1024] = '\0';
	rec = json_pack("{s:s, s:s}", "v", "big", "pad", big);
	/* 40 records of 64 KiB put and removed: 2.5 MiB through a log compacted at 1 MiB. */
	for (int i = 0; i < 40; i++) {
		char key[32];

		snprintf(key, sizeof(key), "f-%d", i);
		assert_int_equal(journal_write(j, key, rec), 0);
		if (i != 7)
			assert_int_equal(journal_remove(j, key), 0);
	}
	json_decref(rec);
	free(big);
	put(j, "f-last", "1");
}

static void test_compaction(void **state)
{
	struct stat st;
	struct dirent *de;
	struct seen s;
	DIR *d;

	(void)state;
	crash_after(writes_many);
	assert_int_equal(count_files(".wal"), 1);
	d = opendir(dir);
	while ((de = readdir(d))) {
		char path[400];

		if (!strstr(de->d_name, ".wal"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		assert_true(st.st_size < 1500 * 1024);
	}
	closedir(d);
	s = recover("f-");
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "f-7");
	assert_string_equal(s.keys[1], "f-last");
}

static void test_legacy_records(void **state)
{
	char path[400];
	struct seen s;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/f-old.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"type\":\"process.pause\",\"v\":\"old\"}", f);
	fclose(f);
	s = recover(NULL);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.values[0], "old");
	s = recover("f-old");
	assert_int_equal(s.n, 1);
	assert_int_equal(count_files(".json"), 0);
	s = recover(NULL);
	assert_int_equal(s.n, 0);
}

/* A clean close with nothing left removes the log; with records left it stays for recovery. */
static void test_clean_close(void **state)
{
	struct journal *j;
	struct seen s;

	(void)state;
	assert_int_equal(journal_open(dir, &j), 0);
	put(j, "f-a", "1");
	assert_int_equal(journal_remove(j, "f-a"), 0);
	journal_close(j);
	assert_int_equal(count_files(".wal"), 0);
	assert_int_equal(journal_open(dir, &j), 0);
	put(j, "f-b", "1");
	journal_close(j);
	assert_int_equal(count_files(".wal"), 1);
	s = recover("f-");
	assert_int_equal(s.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_writer_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_close, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
