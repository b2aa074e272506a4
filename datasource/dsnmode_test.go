package datasource

import (
	"errors"
	"testing"

	"github.com/txcio/txc"
)

func TestDSNMode(t *testing.T) {
	for _, c := range []struct {
		dsn, rest string
		mode      Mode
	}{
		{"root@tcp(127.0.0.1:3306)/test", "root@tcp(127.0.0.1:3306)/test", AT},
		{"root@tcp(127.0.0.1:3306)/test?txc_mode=xa", "root@tcp(127.0.0.1:3306)/test", XA},
		{"u:p?w@tcp(h:1)/test?parseTime=true&txc_mode=XA&loc=UTC", "u:p?w@tcp(h:1)/test?parseTime=true&loc=UTC", XA},
		{"postgres://u@h:5432/test?sslmode=disable&txc_mode=at", "postgres://u@h:5432/test?sslmode=disable", AT},
		{"host=h dbname=test txc_mode=xa sslmode=disable", "host=h dbname=test sslmode=disable", XA},
	} {
		rest, mode, err := dsnMode(c.dsn)
		if err != nil || rest != c.rest || mode != c.mode {
			t.Errorf("dsnMode(%q) = %q, %v, %v; want %q, %v", c.dsn, rest, mode, err, c.rest, c.mode)
		}
	}
	if _, _, err := dsnMode("root@tcp(h)/test?txc_mode=tcc"); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("txc_mode=tcc: %v", err)
	}
}
