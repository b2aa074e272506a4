package httpservice

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/txcio/txc/saga"
)

func TestService(t *testing.T) {
	var gotKey, gotComp, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotKey, gotComp, gotBody = r.Header.Get(HeaderIdempotencyKey), r.Header.Get(HeaderCompensation), string(b)
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"id":7}`))
		case "/empty":
			w.WriteHeader(204)
		case "/named":
			w.WriteHeader(409)
			w.Write([]byte(`{"error":"OutOfStock","message":"no apples"}`))
		case "/busy":
			w.WriteHeader(503)
		case "/bad":
			w.WriteHeader(400)
		case "/limit":
			w.WriteHeader(429)
		}
	}))
	defer srv.Close()
	call := func(path string) (json.RawMessage, error) {
		s := &Service{URL: srv.URL + path}
		return s.Invoke(t.Context(), &saga.Request{Instance: "i", Key: "i/2/c", StepKey: "i/2", Compensation: true, Input: json.RawMessage(`{"n":1}`)})
	}
	out, err := call("/ok")
	if err != nil || string(out) != `{"id":7}` || gotKey != "i/2/c" || gotComp != "true" || gotBody != `{"n":1}` {
		t.Fatalf("%s %v %q %q %q", out, err, gotKey, gotComp, gotBody)
	}
	if out, err := call("/empty"); err != nil || string(out) != "null" {
		t.Fatalf("empty: %s %v", out, err)
	}
	for path, want := range map[string]struct {
		name      string
		permanent bool
	}{"/named": {"OutOfStock", true}, "/busy": {saga.ErrNameUnavailable, false}, "/bad": {"HTTP.400", true}, "/limit": {"HTTP.429", false}} {
		_, err := call(path)
		if saga.ErrorName(err) != want.name || saga.IsPermanent(err) != want.permanent {
			t.Errorf("%s: %v named %s permanent %v", path, err, saga.ErrorName(err), saga.IsPermanent(err))
		}
	}
	s := &Service{URL: "http://127.0.0.1:1/nothing"}
	if _, err := s.Invoke(t.Context(), &saga.Request{}); saga.ErrorName(err) != saga.ErrNameUnavailable || saga.IsPermanent(err) {
		t.Fatalf("unreachable: %v", err)
	}
}
