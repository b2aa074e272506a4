package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// consoleFiles is the web console: plain HTML, CSS and JavaScript that
// call the /v1 admin API from the browser. Nothing is fetched from
// elsewhere, so it works without internet access.
//
//go:embed console
var consoleFiles embed.FS

// consoleHandler serves the console at / (index.html) and its assets.
func consoleHandler() http.Handler {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// No framing by other sites' pages: one could lay the console
		// under a decoy and have an operator click an action.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Frame-Options", "DENY")
		files.ServeHTTP(w, r)
	})
}
