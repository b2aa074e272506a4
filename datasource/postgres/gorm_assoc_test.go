package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	gormpg "gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// The association models: a user has one profile, has many posts and
// many tags (a join table). Keys are bigserial, left to the database.
type assocUser struct {
	ID      int64
	Name    string
	Profile assocProfile `gorm:"foreignKey:UserID"`
	Posts   []assocPost  `gorm:"foreignKey:UserID"`
	Tags    []assocTag   `gorm:"many2many:user_tags"`
}

type assocProfile struct {
	ID     int64
	UserID int64
	Bio    string
}

type assocPost struct {
	ID     int64
	UserID int64
	Title  string
}

type assocTag struct {
	ID   int64
	Name string
}

// assocTables are the tables of one set of the models (GORM's names
// after the set's prefix) and the key each dump is ordered by.
var assocTables = []struct{ name, key string }{
	{"assoc_users", "id"},
	{"assoc_profiles", "id"},
	{"assoc_posts", "id"},
	{"assoc_tags", "id"},
	{"user_tags", "assoc_user_id, assoc_tag_id"},
}

// assocSet is one set of the association tables, under a prefix of its
// own, seeded plainly: two users with a profile, posts and tags.
type assocSet struct {
	prefix string
	plain  *gorm.DB // over the plain database
}

func (e *env) assocSet() *assocSet {
	e.t.Helper()
	prefix := dbtest.Name("ga") + "_"
	s := &assocSet{prefix: prefix, plain: e.gormOver(e.plain, prefix)}
	e.t.Cleanup(func() {
		for _, tb := range assocTables {
			e.plain.Exec(`DROP TABLE IF EXISTS "` + prefix + tb.name + `" CASCADE`)
		}
	})
	if err := s.plain.AutoMigrate(&assocUser{}, &assocProfile{}, &assocPost{}, &assocTag{}); err != nil {
		e.t.Fatal(err)
	}
	t1, t2 := assocTag{Name: "t1"}, assocTag{Name: "t2"}
	users := []assocUser{
		{Name: "u1", Profile: assocProfile{Bio: "b1"}, Posts: []assocPost{{Title: "p1"}, {Title: "p2"}}, Tags: []assocTag{t1, t2}},
		{Name: "u2", Profile: assocProfile{Bio: "b2"}, Posts: []assocPost{{Title: "p3"}}},
	}
	if err := s.plain.Create(&users).Error; err != nil {
		e.t.Fatal(err)
	}
	if err := s.plain.Model(&users[1]).Association("Tags").Append(&users[0].Tags[1]); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// gormOver opens GORM over db (plain or proxied) with table names under
// prefix.
func (e *env) gormOver(db *sql.DB, prefix string) *gorm.DB {
	e.t.Helper()
	g, err := gorm.Open(gormpg.New(gormpg.Config{Conn: db}), &gorm.Config{Logger: logger.Discard,
		NamingStrategy: schema.NamingStrategy{TablePrefix: prefix}})
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// dump is every row of every table of the set, read on the plain
// connection, each table's rows ordered by key.
func (s *assocSet) dump(e *env) string {
	e.t.Helper()
	var sb strings.Builder
	for _, tb := range assocTables {
		name := `"` + s.prefix + tb.name + `"`
		rows, err := e.plain.Query("SELECT x::text FROM " + name + " x ORDER BY " + tb.key)
		if err != nil {
			e.t.Fatal(err)
		}
		sb.WriteString(tb.name + ":\n")
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				e.t.Fatal(err)
			}
			sb.WriteString(r + "\n")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
	}
	return sb.String()
}

// assocWork is what one global transaction does with GORM.
type assocWork func(ctx context.Context, g *gorm.DB) error

// TestGORMAssociations: GORM's association writes over the proxy
// (has-one and has-many saved with INSERT … ON CONFLICT ("id") DO UPDATE
// leaving "id" to its sequence, many-to-many join rows, CreateInBatches,
// an upsert with clause.OnConflict, full association saves, association
// replacement, DeleteWithAssociations), each in a global transaction:
// committed, the tables hold exactly what the same work does plainly;
// rolled back, exactly what they held before.
func TestGORMAssociations(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		work assocWork
	}{
		{"create", func(ctx context.Context, g *gorm.DB) error {
			return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				u := assocUser{Name: "u3", Profile: assocProfile{Bio: "b3"}, Posts: []assocPost{{Title: "p4"}, {Title: "p5"}},
					Tags: []assocTag{{Name: "t3"}, {ID: 1, Name: "t1"}}}
				return tx.Create(&u).Error
			})
		}},
		{"create-in-batches", func(ctx context.Context, g *gorm.DB) error {
			// No transaction of GORM's own around it: each batch is a
			// local transaction (a branch) of its own.
			users := []assocUser{
				{Name: "u3", Profile: assocProfile{Bio: "b3"}, Posts: []assocPost{{Title: "p4"}}, Tags: []assocTag{{Name: "t3"}}},
				{Name: "u4", Profile: assocProfile{Bio: "b4"}, Posts: []assocPost{{Title: "p5"}, {Title: "p6"}}},
				{Name: "u5", Tags: []assocTag{{ID: 2, Name: "t2"}}},
			}
			return g.WithContext(ctx).CreateInBatches(&users, 2).Error
		}},
		{"upsert", func(ctx context.Context, g *gorm.DB) error {
			return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				// One row updated by its key, one inserted with DEFAULT.
				users := []assocUser{{ID: 1, Name: "u1-renamed"}, {Name: "u3", Profile: assocProfile{Bio: "b3"}}}
				if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns([]string{"name"})}).
					Create(&users).Error; err != nil {
					return err
				}
				return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&[]assocPost{{ID: 1, UserID: 2, Title: "p1-moved"}, {UserID: 1, Title: "p4"}}).Error
			})
		}},
		{"save-associations", func(ctx context.Context, g *gorm.DB) error {
			return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				var u assocUser
				if err := tx.Preload(clause.Associations).First(&u, 1).Error; err != nil {
					return err
				}
				u.Name, u.Profile.Bio, u.Posts[0].Title = "u1-saved", "b1-saved", "p1-saved"
				u.Posts = append(u.Posts, assocPost{Title: "p4"})
				if err := tx.Session(&gorm.Session{FullSaveAssociations: true}).Save(&u).Error; err != nil {
					return err
				}
				return tx.Model(&u).Association("Tags").Replace([]assocTag{{Name: "t3"}, u.Tags[1]})
			})
		}},
		{"delete-with-associations", func(ctx context.Context, g *gorm.DB) error {
			return g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				return tx.Select(clause.Associations).Delete(&assocUser{ID: 1}).Error
			})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.assocCheck(c.work)
		})
	}
}

// assocCheck runs work plainly on one fresh set of tables, then through
// the proxy in a committed global transaction on a second (which must
// end as the first) and in a rolled-back one on a third (which must end
// as it began).
func (e *env) assocCheck(work assocWork) {
	t := e.t
	t.Helper()
	plain := e.assocSet()
	seed := plain.dump(e)
	if err := work(context.Background(), plain.plain); err != nil {
		t.Fatalf("plain run: %v", err)
	}
	if plain.dump(e) == seed {
		t.Fatal("the work changed nothing")
	}
	committed := e.assocSet()
	xid, err := e.global(func(ctx context.Context) error { return work(ctx, e.gormOver(e.db, committed.prefix)) })
	if err != nil {
		t.Fatalf("global run: %v", err)
	}
	e.wait(xid, txc.GlobalCommitted)
	if got, want := committed.dump(e), plain.dump(e); got != want {
		t.Fatalf("committed:\n%s\nplain run:\n%s", got, want)
	}
	rolled := e.assocSet()
	seed = rolled.dump(e)
	xid, err = e.global(func(ctx context.Context) error {
		if err := work(ctx, e.gormOver(e.db, rolled.prefix)); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("global run: %v", err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := rolled.dump(e); got != seed {
		t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, seed)
	}
	if n := e.undoRows(xid); n != 0 {
		t.Fatalf("%d undo rows left after rollback", n)
	}
}
