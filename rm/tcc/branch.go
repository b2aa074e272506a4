package tcc

import (
	"context"

	"github.com/txcio/txc"
)

// Branch identifies the TCC branch a Try, Confirm or Cancel is running for.
type Branch struct {
	XID         txc.XID
	ID          txc.BranchID
	ResourceID  string
	Participant string
}

type branchKey struct{}

// BranchFromContext returns the branch carried by the ctx handed to Try,
// Confirm and Cancel, and whether there is one.
//
// The ctx of Confirm and Cancel carries no XID for package tm (the global
// transaction is already decided, so work done there must not join it);
// read the XID from the Branch instead.
func BranchFromContext(ctx context.Context) (Branch, bool) {
	b, ok := ctx.Value(branchKey{}).(Branch)
	return b, ok
}

func contextWithBranch(ctx context.Context, b Branch) context.Context {
	return context.WithValue(ctx, branchKey{}, b)
}
