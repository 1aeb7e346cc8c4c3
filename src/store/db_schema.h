/* The results database's schema as an ordered list of migrations, and the function that
 * brings a connection up to date. PRAGMA user_version holds the number of the last
 * migration applied; a migration, once released, is never edited: changes are new entries. */
#ifndef GOPS_DB_SCHEMA_H
#define GOPS_DB_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

struct gops_db_migration {
	int version;      /* 1, 2, 3, ... in order, no gaps */
	const char *what; /* for error messages */
	const char *sql;  /* one or more statements */
};

extern const struct gops_db_migration gops_db_migrations[];
extern const size_t gops_db_n_migrations;

/* Applies every migration above the file's user_version, all in one transaction, so a
 * failure (or a kill) leaves the previous version intact. Refuses a file written by a newer
 * schema (-EPROTO). `name` names the file in messages. */
int gops_db_migrate(sqlite3 *conn, const char *name, const struct gops_db_migration *list, size_t n,
                    char *err, size_t errlen);

#endif
