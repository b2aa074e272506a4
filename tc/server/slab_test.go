package server

import (
	"testing"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// The replies and commands of one Ready come from shared slabs: each
// message must still be its own, with its own values.
func TestProtoSlabsKeepMessagesApart(t *testing.T) {
	rd := tc.Ready{
		Replies: []tc.Reply{
			{ID: 1, Kind: tc.KindBegin, XID: "n:1"},
			{ID: 2, Kind: tc.KindRegister, BranchID: 7},
			{ID: 3, Kind: tc.KindRegister, BranchID: 8},
			{ID: 4, Kind: tc.KindBegin, XID: "n:2"},
			{ID: 5, Kind: tc.KindCommit, Status: 2},
			{ID: 6, Kind: tc.KindReport},
		},
		Commands: []tc.Command{{ID: 9, XID: "n:1", BranchID: 7}, {ID: 10, XID: "n:1", BranchID: 8, Action: tc.ActionRollback}},
	}
	var m protoSlabs
	m.reserve(&rd)
	var got []*txcv1.ServerMessage
	for i := range rd.Replies {
		got = append(got, replyToProto(&rd.Replies[i], &m))
	}
	for i := range rd.Commands {
		got = append(got, commandToProto(&rd.Commands[i], &m))
	}
	if len(m.begin.free)+len(m.global.free)+len(m.register.free)+len(m.commands.free) != 0 {
		t.Errorf("slabs not used up: %+v", m)
	}
	check := func(i int, ok bool) {
		t.Helper()
		if !ok || got[i].GetId() != uint64(i+1) {
			t.Errorf("message %d: %v", i+1, got[i])
		}
	}
	check(0, got[0].GetReply().GetBegin().GetXid() == "n:1")
	check(1, got[1].GetReply().GetRegister().GetBranchId() == 7)
	check(2, got[2].GetReply().GetRegister().GetBranchId() == 8)
	check(3, got[3].GetReply().GetBegin().GetXid() == "n:2")
	check(4, got[4].GetReply().GetGlobal().GetStatus() == 2)
	check(5, got[5].GetReply().GetReport() != nil)
	c1, c2 := got[6].GetCommand(), got[7].GetCommand()
	if got[6].GetId() != 9 || c1.GetBranchId() != 7 || c1.GetAction() != txcv1.BranchAction_BRANCH_ACTION_COMMIT ||
		got[7].GetId() != 10 || c2.GetBranchId() != 8 || c2.GetAction() != txcv1.BranchAction_BRANCH_ACTION_ROLLBACK {
		t.Errorf("commands: %v, %v", got[6], got[7])
	}
}
