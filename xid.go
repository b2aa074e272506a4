package txc

import (
	"strconv"
	"strings"
)

// XID identifies a global transaction. Its text form is "<node>:<seq>" where
// node names the coordinator node that began it and seq is a number that
// node never hands out twice. An XID is opaque to applications: they carry
// it, they do not build it.
type XID string

// MaxXIDLen bounds the text form of an XID.
const MaxXIDLen = 128

// NewXID formats the XID of sequence number seq on node.
func NewXID(node string, seq uint64) XID {
	return XID(node + ":" + strconv.FormatUint(seq, 10))
}

// Parse splits x into its node and sequence number. It fails with
// CodeInvalidArgument for anything NewXID cannot produce.
func (x XID) Parse() (node string, seq uint64, err error) {
	s := string(x)
	if s == "" || len(s) > MaxXIDLen {
		return "", 0, Errorf(CodeInvalidArgument, "txc: malformed XID %q", truncate(s))
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return "", 0, Errorf(CodeInvalidArgument, "txc: malformed XID %q", truncate(s))
	}
	seq, perr := strconv.ParseUint(s[i+1:], 10, 64)
	if perr != nil || seq == 0 || !ValidNodeName(s[:i]) {
		return "", 0, Errorf(CodeInvalidArgument, "txc: malformed XID %q", truncate(s))
	}
	return s[:i], seq, nil
}

// Valid reports whether x parses.
func (x XID) Valid() bool { _, _, err := x.Parse(); return err == nil }

func (x XID) String() string { return string(x) }

// ValidNodeName reports whether s can name a coordinator node: 1 to 63
// characters of [A-Za-z0-9._-].
func ValidNodeName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
