package txcv1

import "unicode/utf8"

// proto3 string fields must hold valid UTF-8: google.golang.org/protobuf
// refuses to marshal or unmarshal a message whose strings do not. The
// generated MarshalVT and UnmarshalVT (coordinator_vtproto.pb.go) do not
// check, so Codec calls validUTF8 on each message it encodes or decodes with
// them, and both codecs accept and refuse the same messages.
//
// Every message of coordinator.proto has a validUTF8 method that checks its
// string fields and, through their own methods, its message fields; a nil
// message is valid. A field added to the protocol must be added here:
// TestCodecRefusesInvalidUTF8 puts a bad string in every field of every
// message, nested ones included, and fails when one gets through.

// validString is utf8.ValidString, with a loop the compiler inlines for the
// ASCII strings the protocol nearly always carries: BenchmarkCodec's client
// frame checks in about half the time of a call per string.
func validString(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s)
		}
	}
	return true
}

func validStrings(ss []string) bool {
	for _, s := range ss {
		if !validString(s) {
			return false
		}
	}
	return true
}

func (m *ClientFrame) validUTF8() bool {
	if m == nil {
		return true
	}
	for _, c := range m.Messages {
		if !c.validUTF8() {
			return false
		}
	}
	return true
}

func (m *ServerFrame) validUTF8() bool {
	if m == nil {
		return true
	}
	for _, s := range m.Messages {
		if !s.validUTF8() {
			return false
		}
	}
	return true
}

// ValidUTF8 reports whether every string of m is valid UTF-8, as the
// protocol requires: a client checks a request before queueing it, so
// that a bad one fails alone instead of failing the frame it would have
// been sent in.
func (m *ClientMessage) ValidUTF8() bool { return m.validUTF8() }

func (m *ClientMessage) validUTF8() bool {
	if m == nil {
		return true
	}
	switch b := m.Body.(type) {
	case *ClientMessage_Hello:
		return b.Hello.validUTF8()
	case *ClientMessage_Begin:
		return b.Begin.validUTF8()
	case *ClientMessage_Commit:
		return b.Commit.validUTF8()
	case *ClientMessage_Rollback:
		return b.Rollback.validUTF8()
	case *ClientMessage_Status:
		return b.Status.validUTF8()
	case *ClientMessage_Register:
		return b.Register.validUTF8()
	case *ClientMessage_Report:
		return b.Report.validUTF8()
	case *ClientMessage_LockQuery:
		return b.LockQuery.validUTF8()
	case *ClientMessage_BranchResult:
		return b.BranchResult.validUTF8()
	case *ClientMessage_Reserve:
		return b.Reserve.validUTF8()
	}
	return true
}

func (m *ServerMessage) validUTF8() bool {
	if m == nil {
		return true
	}
	switch b := m.Body.(type) {
	case *ServerMessage_Reply:
		return b.Reply.validUTF8()
	case *ServerMessage_Command:
		return b.Command.validUTF8()
	}
	return true
}

func (m *Hello) validUTF8() bool {
	return m == nil || validString(m.ClientName) && validStrings(m.ResourceIds)
}

func (m *HelloReply) validUTF8() bool { return m == nil || validString(m.Node) }

func (m *BeginRequest) validUTF8() bool {
	return m == nil || validString(m.Name) && validString(m.Xid)
}

func (m *BeginReply) validUTF8() bool { return m == nil || validString(m.Xid) }

func (m *ReserveRequest) validUTF8() bool { return true }

func (m *ReserveReply) validUTF8() bool { return m == nil || validString(m.Node) }

func (m *CommitRequest) validUTF8() bool { return m == nil || validString(m.Xid) }

func (m *RollbackRequest) validUTF8() bool { return m == nil || validString(m.Xid) }

func (m *StatusRequest) validUTF8() bool { return m == nil || validString(m.Xid) }

func (m *GlobalStatusReply) validUTF8() bool { return true }

func (m *RegisterRequest) validUTF8() bool {
	return m == nil || validString(m.Xid) && validString(m.ResourceId) && validLockKeys(m.LockKeys)
}

func (m *RegisterReply) validUTF8() bool { return true }

func (m *LockKey) validUTF8() bool {
	return m == nil || validString(m.Table) && validStrings(m.Rows)
}

func validLockKeys(ks []*LockKey) bool {
	for _, k := range ks {
		if !k.validUTF8() {
			return false
		}
	}
	return true
}

func (m *ReportRequest) validUTF8() bool { return m == nil || validString(m.Xid) }

func (m *LockQueryRequest) validUTF8() bool {
	return m == nil || validString(m.Xid) && validString(m.ResourceId) && validLockKeys(m.LockKeys)
}

func (m *LockQueryReply) validUTF8() bool { return m == nil || validString(m.Holder) }

func (m *Reply) validUTF8() bool {
	if m == nil {
		return true
	}
	if !m.Error.validUTF8() {
		return false
	}
	switch r := m.Result.(type) {
	case *Reply_Hello:
		return r.Hello.validUTF8()
	case *Reply_Begin:
		return r.Begin.validUTF8()
	case *Reply_Global:
		return r.Global.validUTF8()
	case *Reply_Register:
		return r.Register.validUTF8()
	case *Reply_Report:
		return r.Report.validUTF8()
	case *Reply_LockQuery:
		return r.LockQuery.validUTF8()
	case *Reply_Reserve:
		return r.Reserve.validUTF8()
	}
	return true
}

func (m *ReportReply) validUTF8() bool { return true }

func (m *Error) validUTF8() bool {
	return m == nil || validString(m.Message) && validString(m.Xid) && validString(m.Holder)
}

func (m *BranchCommand) validUTF8() bool {
	return m == nil || validString(m.Xid) && validString(m.ResourceId)
}

func (m *BranchResult) validUTF8() bool {
	return m == nil || validString(m.Xid) && validString(m.Message)
}
