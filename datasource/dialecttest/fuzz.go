package dialecttest

import (
	"errors"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// FuzzRecognize checks that no input makes recognize (a dialect's
// Recognize) panic; that every refusal is typed (txc.ErrUnsupported); and
// that what it recognizes is a statement of a known kind. seeds are added
// to f's corpus (each dialect keeps more in testdata/fuzz).
func FuzzRecognize(f *testing.F, recognize func(query string) (datasource.Statement, error), seeds []string) {
	for _, q := range seeds {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := recognize(q)
		if err != nil {
			if !errors.Is(err, txc.ErrUnsupported) {
				t.Fatalf("%q: untyped error %v (not ErrUnsupported)", q, err)
			}
			return
		}
		if st == nil {
			t.Fatalf("%q: no statement and no error", q)
		}
		switch st.Kind() {
		case datasource.Passthrough, datasource.Write, datasource.LockingRead:
		default:
			t.Fatalf("%q: kind %v", q, st.Kind())
		}
	})
}
