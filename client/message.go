package client

import txcv1 "github.com/txcio/txc/proto/txc/v1"

// message allocates a request message, its oneof wrapper W and its request
// V together (one allocation instead of three); fill sets the request and
// links the three.
func message[W, V any](fill func(m *txcv1.ClientMessage, w *W, v *V)) *txcv1.ClientMessage {
	b := new(struct {
		m txcv1.ClientMessage
		w W
		v V
	})
	fill(&b.m, &b.w, &b.v)
	return &b.m
}
