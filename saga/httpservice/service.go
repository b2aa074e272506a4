// Package httpservice calls a saga step's service over HTTP: a JSON POST
// carrying the step's input and idempotency key, whose answer is the
// step's output or a named error. It is apart from package saga so that
// the engine itself does not import net/http (one package per dependency).
package httpservice

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/txcio/txc/saga"
)

// HTTP headers the service receives with each call.
const (
	HeaderIdempotencyKey = "Idempotency-Key"       // saga.Request.Key
	HeaderInstance       = "Txc-Saga-Instance"     // saga.Request.Instance
	HeaderStepKey        = "Txc-Saga-Step-Key"     // saga.Request.StepKey
	HeaderCompensation   = "Txc-Saga-Compensation" // "true" for a compensation
	HeaderState          = "Txc-Saga-State"        // saga.Request.State
)

// Service calls a JSON endpoint: it POSTs the step's input as the body
// with the headers above, and takes a 2xx answer's body as the output (an
// empty body is null). Any other status is an error named by the answer's
// JSON body {"error": "<name>", "message": "..."} when it has one, else
// "Unavailable" for 502, 503 and 504 and "HTTP.<status>" otherwise. 4xx
// answers other than 408, 425 and 429 are permanent (not retried; a
// compensation answering one parks the saga). A request that cannot be
// sent or whose answer is lost is "Unavailable" (it may have run: the
// idempotency key makes the retry safe).
type Service struct {
	URL string
	// Client defaults to http.DefaultClient.
	Client *http.Client
	// Header is added to every request.
	Header http.Header
}

// maxHTTPAnswer bounds the answer body read.
const maxHTTPAnswer = 4 << 20

// Invoke makes one call.
func (s *Service) Invoke(ctx context.Context, req *saga.Request) (json.RawMessage, error) {
	body := req.Input
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &saga.ServiceError{Name: "InvalidRequest", Message: fmt.Sprintf("saga: http service %s: %v", s.URL, err), Permanent: true}
	}
	for k, v := range s.Header {
		hr.Header[k] = v
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(HeaderIdempotencyKey, req.Key)
	hr.Header.Set(HeaderInstance, req.Instance)
	hr.Header.Set(HeaderStepKey, req.StepKey)
	hr.Header.Set(HeaderState, req.State)
	hr.Header.Set(HeaderCompensation, strconv.FormatBool(req.Compensation))
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(hr)
	if err != nil {
		return nil, &saga.ServiceError{Name: saga.ErrNameUnavailable, Message: fmt.Sprintf("saga: http service %s: %v", s.URL, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPAnswer+1))
	if err != nil {
		return nil, &saga.ServiceError{Name: saga.ErrNameUnavailable, Message: fmt.Sprintf("saga: http service %s: reading the answer: %v", s.URL, err)}
	}
	if len(b) > maxHTTPAnswer {
		return nil, &saga.ServiceError{Name: "InvalidOutput", Message: fmt.Sprintf("saga: http service %s: answer over %d bytes", s.URL, maxHTTPAnswer), Permanent: true}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if len(bytes.TrimSpace(b)) == 0 {
			return json.RawMessage("null"), nil
		}
		return b, nil
	}
	var named struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	se := &saga.ServiceError{Name: "HTTP." + strconv.Itoa(resp.StatusCode), Message: fmt.Sprintf("saga: http service %s answered %s: %s", s.URL, resp.Status, head(b))}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		se.Name = saga.ErrNameUnavailable
	}
	if json.Unmarshal(b, &named) == nil && named.Error != "" {
		se.Name, se.Message = named.Error, named.Message
	}
	se.Permanent = resp.StatusCode >= 400 && resp.StatusCode < 500 &&
		resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooEarly && resp.StatusCode != http.StatusTooManyRequests
	return nil, se
}

// head is the beginning of an error answer's body, for the message.
func head(b []byte) string {
	const n = 512
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
