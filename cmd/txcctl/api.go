package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// api calls the coordinator's admin HTTP API.
type api struct {
	base    *url.URL
	client  *http.Client
	timeout time.Duration
	token   string
}

func newAPI(admin string, timeout time.Duration, cred credentials) (*api, error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, withCode(exitUsage, fmt.Errorf("admin address %q is not an http(s)://host:port URL", admin))
	}
	c, err := cred.httpClient(u)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return &api{base: u, client: c, timeout: timeout, token: cred.token}, nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Message string `json:"error"`
	Code    string `json:"code"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("coordinator answered %d", e.Status)
	}
	return e.Message
}

// exitFor maps an HTTP status to an exit code.
func exitFor(status int) int {
	switch status {
	case http.StatusBadRequest:
		return exitUsage
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusConflict:
		return exitConflict
	case http.StatusServiceUnavailable:
		return exitUnavailable
	case http.StatusUnauthorized, http.StatusForbidden:
		return exitDenied
	}
	return exitFailed
}

// do sends a request and returns the body of a 2xx answer, with its
// headers. Other answers and transport failures are exit-coded errors.
func (a *api) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	u := a.base.JoinPath(path)
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, withCode(exitFailed, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, withCode(exitUsage, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return nil, nil, withCode(exitUnavailable, fmt.Errorf("coordinator admin API at %s unreachable: %w", a.base.Redacted(), unwrapURL(err)))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, nil, withCode(exitUnavailable, fmt.Errorf("reading the coordinator's answer: %w", err))
	}
	if res.StatusCode/100 != 2 {
		e := &apiError{Status: res.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("coordinator answered %s: %s", res.Status, strings.TrimSpace(string(data)))
		}
		return nil, nil, withCode(exitFor(res.StatusCode), e)
	}
	return data, res.Header, nil
}

// get decodes the JSON answer of GET path into v and returns the raw body.
func (a *api) get(ctx context.Context, path string, query url.Values, v any) ([]byte, http.Header, error) {
	data, hdr, err := a.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := decodeInto(data, v); err != nil {
		return nil, nil, err
	}
	return data, hdr, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeInto decodes an API answer.
func decodeInto(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return withCode(exitFailed, fmt.Errorf("the coordinator's answer is not what txcctl expects: %w", err))
	}
	return nil
}
