package mysql_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// GORM models with a has-one, a has-many and a many-to-many association
// (a string key on the far side).
type assocUser struct {
	ID        uint64 `gorm:"primaryKey;autoIncrement"`
	Name      string `gorm:"size:40"`
	Profile   assocProfile
	Pets      []assocPet
	Languages []assocLanguage `gorm:"many2many:assoc_user_langs"`
}

type assocProfile struct {
	ID          uint64 `gorm:"primaryKey;autoIncrement"`
	AssocUserID uint64
	Bio         string `gorm:"size:40"`
}

type assocPet struct {
	ID          uint64 `gorm:"primaryKey;autoIncrement"`
	AssocUserID uint64
	Name        string `gorm:"size:40"`
}

type assocLanguage struct {
	Code string `gorm:"primaryKey;size:8"`
	Name string `gorm:"size:40"`
}

// gormSet is one set of the models' tables, created and seeded through
// the plain connection, with a GORM over the database set names them by.
type gormSet struct {
	tables []string // users, profiles, pets, languages, the join table
	order  []string // the key of each, for dumpBy
}

// newGormSet creates the tables (named with a fresh prefix) and seeds two
// users with associations; over is the database (plain or proxied) the
// returned GORM writes through.
func (e *env) newGormSet(t *testing.T, over *sql.DB) (*gormSet, *gorm.DB) {
	t.Helper()
	prefix := dbtest.Name("at_ga") + "_"
	cfg := func() *gorm.Config {
		return &gorm.Config{Logger: logger.Discard, NamingStrategy: schema.NamingStrategy{TablePrefix: prefix}}
	}
	open := func(db *sql.DB) *gorm.DB {
		g, err := gorm.Open(gormmysql.New(gormmysql.Config{Conn: db}), cfg())
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	plain := open(e.plain)
	set := &gormSet{
		tables: []string{prefix + "assoc_users", prefix + "assoc_profiles", prefix + "assoc_pets", prefix + "assoc_languages", prefix + "assoc_user_langs"},
		order:  []string{"1", "1", "1", "1", "1, 2"},
	}
	t.Cleanup(func() {
		c, err := e.plain.Conn(context.Background())
		if err != nil {
			return
		}
		defer c.Close()
		c.ExecContext(context.Background(), "SET foreign_key_checks = 0")
		for _, tb := range set.tables {
			c.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+tb)
		}
		c.ExecContext(context.Background(), "SET foreign_key_checks = 1")
	})
	if err := plain.AutoMigrate(&assocUser{}, &assocProfile{}, &assocPet{}, &assocLanguage{}); err != nil {
		t.Fatal(err)
	}
	seed := []assocUser{
		{Name: "ann", Profile: assocProfile{Bio: "hi"}, Pets: []assocPet{{Name: "rex"}, {Name: "tom"}},
			Languages: []assocLanguage{{Code: "en", Name: "English"}, {Code: "fr", Name: "French"}}},
		{Name: "bob", Pets: []assocPet{{Name: "kit"}}, Languages: []assocLanguage{{Code: "en", Name: "English"}}},
	}
	if err := plain.Create(&seed).Error; err != nil {
		t.Fatal(err)
	}
	return set, open(over)
}

// dump returns every table of the set in key order.
func (s *gormSet) dump(e *env) string {
	var sb strings.Builder
	for i, tb := range s.tables {
		sb.WriteString(strings.SplitN(tb, "_assoc_", 2)[1] + ":\n" + e.dumpBy(tb, s.order[i]))
	}
	return sb.String()
}

// gormWork is what a global transaction does through GORM.
var gormWork = []struct {
	name string
	do   func(g *gorm.DB) error
}{
	{"create-with-associations", func(g *gorm.DB) error {
		return g.Create(&assocUser{Name: "cy", Profile: assocProfile{Bio: "new"}, Pets: []assocPet{{Name: "max"}, {Name: "ivy"}},
			Languages: []assocLanguage{{Code: "en", Name: "English"}, {Code: "de", Name: "German"}}}).Error
	}},
	{"create-in-batches", func(g *gorm.DB) error {
		users := []assocUser{
			// d1 and d2 (one batch) share a language: GORM writes it once.
			{Name: "d1", Pets: []assocPet{{Name: "p1"}}, Languages: []assocLanguage{{Code: "fr", Name: "French"}, {Code: "en", Name: "English"}}},
			{Name: "d2", Profile: assocProfile{Bio: "b2"}, Languages: []assocLanguage{{Code: "en", Name: "English"}, {Code: "es", Name: "Spanish"}}},
			{Name: "d3", Pets: []assocPet{{Name: "p3"}, {Name: "p4"}}},
		}
		return g.CreateInBatches(&users, 2).Error
	}},
	{"upsert", func(g *gorm.DB) error {
		if err := g.Clauses(clause.OnConflict{UpdateAll: true}).Create(&[]assocUser{{ID: 1, Name: "ann2"}, {ID: 7, Name: "eve"}}).Error; err != nil {
			return err
		}
		if err := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&[]assocLanguage{{Code: "en", Name: "Other"}, {Code: "it", Name: "Italian"}}).Error; err != nil {
			return err
		}
		// Saving a user with its loaded associations changed upserts them.
		var bob assocUser
		if err := g.Preload("Pets").Preload("Languages").First(&bob, 2).Error; err != nil {
			return err
		}
		bob.Name, bob.Pets[0].Name = "bobby", "kat"
		bob.Languages = append(bob.Languages, assocLanguage{Code: "fr", Name: "French"})
		return g.Session(&gorm.Session{FullSaveAssociations: true}).Save(&bob).Error
	}},
	{"save-new-and-existing-children", func(g *gorm.DB) error {
		// GORM writes the pets in one upsert: (…, 3), (…, DEFAULT).
		var ann assocUser
		if err := g.Preload("Pets").First(&ann, 1).Error; err != nil {
			return err
		}
		ann.Pets[1].Name = "tim"
		ann.Pets = append(ann.Pets, assocPet{Name: "new"}, assocPet{Name: "newer"})
		if err := g.Session(&gorm.Session{FullSaveAssociations: true}).Save(&ann).Error; err != nil {
			return err
		}
		var bob assocUser
		if err := g.Preload("Pets").First(&bob, 2).Error; err != nil {
			return err
		}
		bob.Pets = append(bob.Pets, assocPet{Name: "pup"})
		return g.Save(&bob).Error
	}},
	{"delete-with-associations", func(g *gorm.DB) error {
		return g.Select(clause.Associations).Delete(&assocUser{ID: 1}).Error
	}},
}

// TestGORMAssociations: GORM's association writes (on MariaDB each
// association save is an INSERT … ON DUPLICATE KEY UPDATE `pk`=`pk`, a
// do-nothing upsert, or one assigning the foreign key from VALUES),
// CreateInBatches, upserts with clause.OnConflict and
// Select(clause.Associations).Delete, each in a global transaction:
// committed, the tables equal those the same work gives without the
// proxy; rolled back, they equal byte for byte their state before.
func TestGORMAssociations(t *testing.T) {
	e := newEnv(t, "parseTime=true")
	for _, w := range gormWork {
		t.Run(w.name, func(t *testing.T) {
			e.t = t
			plainSet, plainG := e.newGormSet(t, e.plain)
			if err := w.do(plainG); err != nil {
				t.Fatalf("plain run: %v", err)
			}
			want := plainSet.dump(e)
			if want == "" {
				t.Fatal("no rows")
			}

			commitSet, g := e.newGormSet(t, e.db)
			xid, err := e.global(func(ctx context.Context) error { return w.do(g.WithContext(ctx)) })
			if err != nil {
				t.Fatalf("global run: %v", err)
			}
			e.wait(xid, txc.GlobalCommitted)
			if got := commitSet.dump(e); got != want {
				t.Fatalf("committed:\n%s\nplain run:\n%s", got, want)
			}

			rollbackSet, g := e.newGormSet(t, e.db)
			before := rollbackSet.dump(e)
			xid = e.rollBack(func(ctx context.Context) error {
				if err := w.do(g.WithContext(ctx)); err != nil {
					return err
				}
				if rollbackSet.dump(e) == before {
					t.Error("the work changed nothing")
				}
				return nil
			})
			if got := rollbackSet.dump(e); got != before {
				t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, before)
			}
			if n := e.undoRows(xid); n != 0 {
				t.Fatalf("%d undo rows left after rollback", n)
			}
		})
	}
}
