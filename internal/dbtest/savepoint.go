package dbtest

// SavepointScript is a sequence of statements (see Script) of one local
// transaction of a global transaction using savepoints, on a table
// (id int PRIMARY KEY, n int NOT NULL, s text UNIQUE) seeded (1, 10, 'a'),
// (2, 20, 'b'), (3, 30, 'c'), (4, 40, 'd'). Log is the undo log the local
// commit must write: one line per record, its kind, then the before and
// after rows (every column as its lock-key text), "" for none.
type SavepointScript struct {
	Name, Log string
	Stmts     []string
}

// SavepointScripts are the savepoint sequences that MySQL/MariaDB and
// PostgreSQL run alike (a statement that fails aborts a PostgreSQL
// transaction until a ROLLBACK TO: each is followed by one).
var SavepointScripts = []SavepointScript{
	{"row written before and after the savepoint", "Update (1,10,a)>(1,11,a)\n", []string{
		"UPDATE {t} SET n = n + 1 WHERE id = 1",
		"SAVEPOINT a",
		"UPDATE {t} SET n = n * 10 WHERE id = 1",
		"UPDATE {t} SET n = 0 WHERE id = 2",
		"ROLLBACK TO SAVEPOINT a",
	}},
	{"row written again after rollback to", "Update (1,10,a)>(1,11,a)\nUpdate (1,11,a)>(1,16,a)\n", []string{
		"UPDATE {t} SET n = n + 1 WHERE id = 1",
		"SAVEPOINT a",
		"UPDATE {t} SET n = n * 10, s = 'x' WHERE id = 1",
		"ROLLBACK TO SAVEPOINT a",
		"UPDATE {t} SET n = n + 5 WHERE id = 1",
	}},
	{"insert and delete after the savepoint", "Insert >(5,55,f)\n", []string{
		"SAVEPOINT a",
		"INSERT INTO {t} VALUES (5, 50, 'e')",
		"DELETE FROM {t} WHERE id = 4",
		"ROLLBACK TO SAVEPOINT a",
		"INSERT INTO {t} VALUES (5, 55, 'f')",
	}},
	{"nested savepoints", "Update (1,10,a)>(1,11,a)\nUpdate (2,20,b)>(2,22,b)\n", []string{
		"UPDATE {t} SET n = n + 1 WHERE id = 1",
		"SAVEPOINT a",
		"UPDATE {t} SET n = n + 1 WHERE id = 2",
		"SAVEPOINT b",
		"DELETE FROM {t} WHERE id = 3",
		"ROLLBACK TO SAVEPOINT b",
		"UPDATE {t} SET n = n + 1 WHERE id = 4",
		"ROLLBACK TO SAVEPOINT b", // b stays after a rollback to it
		"UPDATE {t} SET n = n + 1 WHERE id = 3",
		"RELEASE SAVEPOINT b",
		"!ROLLBACK TO SAVEPOINT b", // released: the server refuses, nothing changes
		"ROLLBACK TO SAVEPOINT a",
		"UPDATE {t} SET n = n + 2 WHERE id = 2",
	}},
	{"release keeps the changes", "Update (1,10,a)>(1,11,a)\nInsert >(6,60,g)\nUpdate (2,20,b)>(2,21,b)\n", []string{
		"SAVEPOINT a",
		"UPDATE {t} SET n = n + 1 WHERE id = 1",
		"SAVEPOINT b",
		"INSERT INTO {t} VALUES (6, 60, 'g')",
		"RELEASE SAVEPOINT a", // a and b
		"SAVEPOINT z",
		"!ROLLBACK TO SAVEPOINT b",
		"!ROLLBACK TO SAVEPOINT a",
		"ROLLBACK TO SAVEPOINT z",
		"UPDATE {t} SET n = n + 1 WHERE id = 2",
	}},
	{"failed statement undone", "Insert >(5,1,e)\n", []string{
		"SAVEPOINT a",
		"UPDATE {t} SET n = 0 WHERE id = 1",
		"!INSERT INTO {t} VALUES (5, 1, 'a')", // duplicate s
		"ROLLBACK TO SAVEPOINT a",
		"INSERT INTO {t} VALUES (5, 1, 'e')",
	}},
	{"everything rolled back", "", []string{
		"SAVEPOINT Sp1", // names are case-insensitive (unquoted, in PostgreSQL)
		"UPDATE {t} SET n = n + 1 WHERE id = 1",
		"INSERT INTO {t} VALUES (5, 1, 'e')",
		"ROLLBACK TO sp1",
	}},
}
