package txcv1

import (
	"errors"

	"github.com/txcio/txc"
)

// ErrorToProto turns err into its wire form; nil for nil. Errors that are
// not *txc.Error travel as CodeInternal with their message.
func ErrorToProto(err error) *Error {
	if err == nil {
		return nil
	}
	var e *txc.Error
	if errors.As(err, &e) {
		return &Error{Code: ErrorCode(e.Code), Message: e.Message, Xid: string(e.XID),
			Holder: string(e.Holder), Status: GlobalStatus(e.Status)}
	}
	return &Error{Code: ErrorCode_ERROR_CODE_INTERNAL, Message: err.Error()}
}

// ErrorFromProto is the inverse of ErrorToProto; nil for nil or code OK.
func ErrorFromProto(p *Error) error {
	if p == nil || p.Code == ErrorCode_ERROR_CODE_OK {
		return nil
	}
	return &txc.Error{Code: txc.Code(p.Code), Message: p.Message, XID: txc.XID(p.Xid),
		Holder: txc.XID(p.Holder), Status: txc.GlobalStatus(p.Status)}
}

// LockKeysToProto converts lock keys to their wire form.
func LockKeysToProto(keys []txc.LockKey) []*LockKey {
	if len(keys) == 0 {
		return nil
	}
	out := make([]*LockKey, len(keys))
	for i, k := range keys {
		out[i] = &LockKey{Table: k.Table, Rows: k.Rows}
	}
	return out
}

// LockKeysFromProto converts lock keys from their wire form.
func LockKeysFromProto(keys []*LockKey) []txc.LockKey {
	if len(keys) == 0 {
		return nil
	}
	out := make([]txc.LockKey, len(keys))
	for i, k := range keys {
		out[i] = txc.LockKey{Table: k.GetTable(), Rows: k.GetRows()}
	}
	return out
}
