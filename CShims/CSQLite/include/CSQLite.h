#ifndef FAXD_CSQLITE_H
#define FAXD_CSQLITE_H

#include <sqlite3.h>

/// sqlite3_bind_text with SQLITE_TRANSIENT: the macro is a cast of -1 to a function pointer,
/// which Swift cannot express; SQLite copies the bytes before returning.
int csqlite_bind_text(sqlite3_stmt *statement, int index, const char *text, int length);

/// sqlite3_bind_blob with SQLITE_TRANSIENT (see above).
int csqlite_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int length);

#endif
