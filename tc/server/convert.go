package server

import (
	"time"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// toMsg converts one client message into a core input. It returns an error
// for a message the core cannot even read (no body, a second Hello with a
// bad version); the caller answers it directly, since it changes nothing.
func toMsg(conn tc.ConnID, m *txcv1.ClientMessage) (tc.Msg, *txc.Error) {
	msg := tc.Msg{Conn: conn, ID: m.GetId()}
	switch b := m.GetBody().(type) {
	case *txcv1.ClientMessage_Hello:
		if v := b.Hello.GetVersion(); v != protocolVersion {
			return msg, txc.Errorf(txc.CodeInvalidArgument, "server: protocol version %d not supported, this coordinator speaks %d", v, protocolVersion)
		}
		msg.Kind, msg.Resources = tc.KindHello, b.Hello.GetResourceIds()
	case *txcv1.ClientMessage_Begin:
		msg.Kind, msg.Name = tc.KindBegin, b.Begin.GetName()
		ms := b.Begin.GetTimeoutMs()
		if ms > uint64(365*24*time.Hour/time.Millisecond) {
			return msg, txc.Errorf(txc.CodeInvalidArgument, "server: timeout of %d ms is absurd", ms)
		}
		msg.Timeout = time.Duration(ms) * time.Millisecond
		msg.XID = txc.XID(b.Begin.GetXid())
	case *txcv1.ClientMessage_Reserve:
		msg.Kind, msg.Count = tc.KindReserve, uint64(b.Reserve.GetCount())
	case *txcv1.ClientMessage_Commit:
		msg.Kind, msg.XID = tc.KindCommit, txc.XID(b.Commit.GetXid())
	case *txcv1.ClientMessage_Rollback:
		msg.Kind, msg.XID = tc.KindRollback, txc.XID(b.Rollback.GetXid())
	case *txcv1.ClientMessage_Status:
		msg.Kind, msg.XID = tc.KindStatus, txc.XID(b.Status.GetXid())
	case *txcv1.ClientMessage_Register:
		r := b.Register
		msg.Kind, msg.XID = tc.KindRegister, txc.XID(r.GetXid())
		msg.BranchType, msg.ResourceID = txc.BranchType(r.GetBranchType()), r.GetResourceId()
		msg.LockKeys, msg.ApplicationData = txcv1.LockKeysFromProto(r.GetLockKeys()), r.GetApplicationData()
	case *txcv1.ClientMessage_Report:
		r := b.Report
		msg.Kind, msg.XID, msg.BranchID = tc.KindReport, txc.XID(r.GetXid()), txc.BranchID(r.GetBranchId())
		msg.BranchStatus = txc.BranchStatus(r.GetStatus())
	case *txcv1.ClientMessage_LockQuery:
		r := b.LockQuery
		msg.Kind, msg.XID, msg.ResourceID = tc.KindLockQuery, txc.XID(r.GetXid()), r.GetResourceId()
		msg.LockKeys = txcv1.LockKeysFromProto(r.GetLockKeys())
	case *txcv1.ClientMessage_BranchResult:
		r := b.BranchResult
		msg.Kind, msg.XID, msg.BranchID = tc.KindBranchResult, txc.XID(r.GetXid()), txc.BranchID(r.GetBranchId())
		msg.BranchStatus, msg.Text = txc.BranchStatus(r.GetStatus()), r.GetMessage()
	default:
		return msg, txc.Errorf(txc.CodeInvalidArgument, "server: message %d has no request in it", m.GetId())
	}
	return msg, nil
}

func errorReply(id uint64, err error) *txcv1.ServerMessage {
	return &txcv1.ServerMessage{Id: id, Body: &txcv1.ServerMessage_Reply{Reply: &txcv1.Reply{Error: txcv1.ErrorToProto(err)}}}
}

// replyToProto converts a reply. The common kinds are built in one
// allocation each (replyParts plus the result's oneof wrapper and message),
// taken from m's slabs when they have room (see protoSlabs); the protobuf structs only
// point into it.
func replyToProto(r *tc.Reply, m *protoSlabs) *txcv1.ServerMessage {
	if r.Err != nil {
		return errorReply(r.ID, r.Err)
	}
	switch r.Kind {
	case tc.KindBegin:
		p := m.begin.take()
		p.v.Xid, p.w.Begin, p.rep.Result = string(r.XID), &p.v, &p.w
		return p.link(r.ID)
	case tc.KindCommit, tc.KindRollback, tc.KindStatus:
		p := m.global.take()
		p.v.Status, p.w.Global, p.rep.Result = txcv1.GlobalStatus(r.Status), &p.v, &p.w
		return p.link(r.ID)
	case tc.KindRegister:
		p := m.register.take()
		p.v.BranchId, p.w.Register, p.rep.Result = uint64(r.BranchID), &p.v, &p.w
		return p.link(r.ID)
	}
	b := new(replyParts)
	switch r.Kind {
	case tc.KindHello:
		b.rep.Result = &txcv1.Reply_Hello{Hello: &txcv1.HelloReply{Version: protocolVersion, Node: r.Node}}
	case tc.KindReport:
		b.rep.Result = &txcv1.Reply_Report{Report: &txcv1.ReportReply{}}
	case tc.KindLockQuery:
		b.rep.Result = &txcv1.Reply_LockQuery{LockQuery: &txcv1.LockQueryReply{Locked: r.Locked, Holder: string(r.Holder)}}
	case tc.KindReserve:
		b.rep.Result = &txcv1.Reply_Reserve{Reserve: &txcv1.ReserveReply{Node: r.Node, First: r.First, Count: uint32(r.Count)}}
	}
	return b.link(r.ID)
}

// replyParts is the envelope of a reply, allocated together.
type replyParts struct {
	msg  txcv1.ServerMessage
	body txcv1.ServerMessage_Reply
	rep  txcv1.Reply
}

// replyOf is a reply's envelope with its result wrapper W and result V.
type replyOf[W, V any] struct {
	replyParts
	w W
	v V
}

func (p *replyParts) link(id uint64) *txcv1.ServerMessage {
	p.body.Reply = &p.rep
	p.msg.Id, p.msg.Body = id, &p.body
	return &p.msg
}

// commandParts is a command's envelope and body, allocated together.
type commandParts struct {
	msg  txcv1.ServerMessage
	body txcv1.ServerMessage_Command
	cmd  txcv1.BranchCommand
}

// commandToProto converts a command in one allocation, as replyToProto.
func commandToProto(c *tc.Command, m *protoSlabs) *txcv1.ServerMessage {
	b := m.commands.take()
	b.cmd.Action = txcv1.BranchAction_BRANCH_ACTION_COMMIT
	if c.Action == tc.ActionRollback {
		b.cmd.Action = txcv1.BranchAction_BRANCH_ACTION_ROLLBACK
	}
	b.cmd.Xid, b.cmd.BranchId, b.cmd.BranchType = string(c.XID), uint64(c.BranchID), txcv1.BranchType(c.BranchType)
	b.cmd.ResourceId, b.cmd.ApplicationData = c.ResourceID, c.ApplicationData
	b.body.Command = &b.cmd
	b.msg.Id, b.msg.Body = c.ID, &b.body
	return &b.msg
}

// approxSize estimates a server message's encoded size, to keep frames
// under the client's receive limit without encoding twice.
func approxSize(m *txcv1.ServerMessage) int {
	if c := m.GetCommand(); c != nil {
		return 64 + len(c.Xid) + len(c.ResourceId) + len(c.ApplicationData)
	}
	if e := m.GetReply().GetError(); e != nil {
		return 64 + len(e.Message) + len(e.Xid) + len(e.Holder)
	}
	return 64
}
