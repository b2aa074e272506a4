package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/server/servertest"
)

// chromium returns the path of Debian's chromium, installing the package
// when it is missing and the test runs as root with apt-get. Without a
// browser the test fails under CI=true and is skipped otherwise; under
// -short it is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	dbtest.SkipShort(t, "browser (a chromium subprocess)")
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	var why string
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		why = "chromium is not installed and this test cannot install it (needs root and apt-get)"
	} else {
		for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "--no-install-recommends", "chromium"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				why = "apt-get " + strings.Join(args, " ") + ": " + err.Error() + ": " + string(out)
				break
			}
		}
		if p, err := exec.LookPath("chromium"); err == nil {
			return p
		}
		if why == "" {
			why = "apt-get installed chromium but it is not on PATH"
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true)")
	}
	t.Skip(why)
	return ""
}

// browser starts a headless chromium with a fresh profile and returns a
// chromedp context for one tab, and a func that lists the uncaught
// JavaScript exceptions of its pages so far.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

func TestConsoleResolvesAParkedTransactionInABrowser(t *testing.T) {
	conn, admin := servertest.StartWithAdmin(t, "web")
	web := httptest.NewServer(admin)
	t.Cleanup(web.Close)
	const reason = "row accounts/7 changed behind our back"
	xid := servertest.Park(t, conn, "db", reason)

	ctx, jsErrors := browser(t)
	row := chromedp.CSS(`#tx-list tbody tr[data-xid="` + string(xid) + `"]`)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v (page errors: %v)", sel, err, jsErrors())
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v (page errors: %v)", what, err, jsErrors())
		}
	}
	do("load the console and find the parked transaction",
		chromedp.Navigate(web.URL+"/"),
		chromedp.Click(chromedp.CSS(`#f-manual`)),
		chromedp.Click(chromedp.CSS(`#tx-filters button[type=submit]`)),
		chromedp.WaitVisible(row),
		chromedp.Click(row),
		chromedp.WaitVisible(chromedp.CSS(`#actions`)),
	)
	if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "txc console" {
		t.Fatalf("title %q %v", title, err)
	}
	if got := text(`#detail-branches tbody .last-error`); !strings.Contains(got, reason) {
		t.Fatalf("failure reason shown: %q", got)
	}
	do("resolve without a comment", chromedp.Click(chromedp.CSS(`#resolve-btn`)), chromedp.WaitVisible(chromedp.CSS(`#action-msg.fail`)))
	if got := text(`#action-msg`); !strings.Contains(got, "needs a comment") {
		t.Fatalf("refusal shown: %q", got)
	}
	do("resolve with a comment",
		chromedp.SendKeys(chromedp.CSS(`#resolve-operator`), "night-shift"),
		chromedp.SendKeys(chromedp.CSS(`#resolve-comment`), "restored row 7 by hand"),
		chromedp.Click(chromedp.CSS(`#resolve-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#action-msg.ok`)),
	)
	if got := text(`#action-msg`); !strings.Contains(got, "resolved") {
		t.Fatalf("result shown: %q", got)
	}
	// The detail now shows the outcome and the operator's entry.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#detail-status").textContent === "Rollbacked" &&
		document.querySelector("#detail-history tbody").textContent.includes("night-shift")`)); err != nil {
		t.Fatalf("detail after resolve: %v", err)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}

	// The API agrees: resolved by hand, by whom and why.
	res, err := http.Get(web.URL + "/v1/transactions/" + string(xid))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v tc.TxView
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	last := v.History[len(v.History)-1]
	var resolved bool
	for _, e := range v.History {
		resolved = resolved || (e.Action == tc.ActionResolve && e.Who == "night-shift" && e.Note == "restored row 7 by hand")
	}
	if v.StatusS != "Rollbacked" || !v.Finished || !resolved || last.Status != "Rollbacked" {
		t.Fatalf("after the browser resolved it: %+v", v)
	}
}
