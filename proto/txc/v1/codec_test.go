package txcv1

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/encoding"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

var _ encoding.CodecV2 = Codec{}

var testKeys = []*LockKey{
	{Table: "orders", Rows: []string{"1", "a\\,b", "ü€𝄞"}},
	{Table: "stock"},
	{},
}

// clientMessages has every ClientMessage body with every field set, and
// some edge cases: no body, a body holding an empty or nil message.
func clientMessages() []*ClientMessage {
	return []*ClientMessage{
		{Id: 1, Body: &ClientMessage_Hello{Hello: &Hello{Version: 1, ClientName: "rm-1", ResourceIds: []string{"db1", "", "db2"}}}},
		{Id: 2, Body: &ClientMessage_Begin{Begin: &BeginRequest{Name: "transfer ✓", TimeoutMs: 60000, Xid: "n1:42"}}},
		{Id: 3, Body: &ClientMessage_Commit{Commit: &CommitRequest{Xid: "n1:42"}}},
		{Id: 4, Body: &ClientMessage_Rollback{Rollback: &RollbackRequest{Xid: "n1:43"}}},
		{Id: 5, Body: &ClientMessage_Status{Status: &StatusRequest{Xid: "n1:44"}}},
		{Id: 6, Body: &ClientMessage_Register{Register: &RegisterRequest{Xid: "n1:42", BranchType: BranchType_BRANCH_TYPE_TCC,
			ResourceId: "db1", LockKeys: testKeys, ApplicationData: []byte{0x02, 0x00, 0xff, 'x'}}}},
		{Id: 7, Body: &ClientMessage_Report{Report: &ReportRequest{Xid: "n1:42", BranchId: 1 << 40, Status: BranchStatus_BRANCH_STATUS_PHASE_ONE_FAILED}}},
		{Id: 8, Body: &ClientMessage_LockQuery{LockQuery: &LockQueryRequest{Xid: "n1:42", ResourceId: "db1", LockKeys: testKeys}}},
		{Id: 9, Body: &ClientMessage_BranchResult{BranchResult: &BranchResult{Xid: "n1:42", BranchId: 7,
			Status: BranchStatus_BRANCH_STATUS_ROLLBACK_FAILED_RETRYABLE, Message: "deadlock"}}},
		{Id: 10, Body: &ClientMessage_Reserve{Reserve: &ReserveRequest{Count: 4096}}},
		{Id: 1<<64 - 1},
		{},
		{Id: 11, Body: &ClientMessage_Hello{Hello: &Hello{}}},
		{Id: 12, Body: &ClientMessage_Register{Register: &RegisterRequest{ApplicationData: []byte{}}}},
		{Id: 13, Body: &ClientMessage_Commit{}}, // nil message: encoded as an empty one
	}
}

// serverMessages has every ServerMessage body and every Reply result.
func serverMessages() []*ServerMessage {
	reply := func(id uint64, r *Reply) *ServerMessage {
		return &ServerMessage{Id: id, Body: &ServerMessage_Reply{Reply: r}}
	}
	return []*ServerMessage{
		reply(1, &Reply{Result: &Reply_Hello{Hello: &HelloReply{Version: 1, Node: "n1"}}}),
		reply(2, &Reply{Result: &Reply_Begin{Begin: &BeginReply{Xid: "n1:42"}}}),
		reply(3, &Reply{Result: &Reply_Global{Global: &GlobalStatusReply{Status: GlobalStatus_GLOBAL_STATUS_TIMEOUT_ROLLBACKED}}}),
		reply(4, &Reply{Result: &Reply_Register{Register: &RegisterReply{BranchId: 99}}}),
		reply(5, &Reply{Result: &Reply_Report{Report: &ReportReply{}}}),
		reply(6, &Reply{Result: &Reply_LockQuery{LockQuery: &LockQueryReply{Locked: true, Holder: "n1:7"}}}),
		reply(7, &Reply{Result: &Reply_Reserve{Reserve: &ReserveReply{Node: "n1", First: 8192, Count: 4096}}}),
		reply(8, &Reply{Error: &Error{Code: ErrorCode_ERROR_CODE_LOCK_CONFLICT, Message: "locked: ü", Xid: "n1:42",
			Holder: "n1:7", Status: GlobalStatus_GLOBAL_STATUS_BEGIN}}),
		reply(9, &Reply{}),
		{Id: 10, Body: &ServerMessage_Command{Command: &BranchCommand{Action: BranchAction_BRANCH_ACTION_ROLLBACK, Xid: "n1:42",
			BranchId: 3, BranchType: BranchType_BRANCH_TYPE_AT, ResourceId: "db1", ApplicationData: bytes.Repeat([]byte{0, 1, 0xfe}, 100)}}},
		{Id: 11},
		{Id: 12, Body: &ServerMessage_Reply{}},
	}
}

// testMessages is every message above alone, and in frames: one frame
// each, one frame of all, an empty frame.
func testMessages() []proto.Message {
	var out []proto.Message
	cms, sms := clientMessages(), serverMessages()
	for _, m := range cms {
		out = append(out, m, &ClientFrame{Messages: []*ClientMessage{m}})
	}
	for _, m := range sms {
		out = append(out, m, &ServerFrame{Messages: []*ServerMessage{m}})
	}
	return append(out, &ClientFrame{Messages: cms}, &ServerFrame{Messages: sms}, &ClientFrame{}, &ServerFrame{})
}

// TestCodecCoversEveryVariant fails when a oneof variant is added to the
// protocol without a case in clientMessages or serverMessages.
func TestCodecCoversEveryVariant(t *testing.T) {
	seen := map[protoreflect.FullName]bool{}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		m.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if f.ContainingOneof() != nil {
				seen[f.FullName()] = true
			}
			if f.Message() != nil && !f.IsList() && !f.IsMap() {
				walk(v.Message())
			}
			return true
		})
	}
	for _, m := range testMessages() {
		walk(m.ProtoReflect())
	}
	msgs := File_proto_txc_v1_coordinator_proto.Messages()
	for i := range msgs.Len() {
		oneofs := msgs.Get(i).Oneofs()
		for j := range oneofs.Len() {
			fields := oneofs.Get(j).Fields()
			for k := range fields.Len() {
				if name := fields.Get(k).FullName(); !seen[name] {
					t.Errorf("no test message sets %s", name)
				}
			}
		}
	}
}

// split cuts b into pieces of at most n bytes, as gRPC may hand them over.
func split(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(b) > n {
		s = append(s, mem.SliceBuffer(b[:n]))
		b = b[n:]
	}
	return append(s, mem.SliceBuffer(b))
}

func TestCodecRoundTrip(t *testing.T) {
	c := Codec{}
	for i, m := range testMessages() {
		if _, ok := m.(vtMessage); !ok {
			t.Fatalf("%T does not use the generated code", m)
		}
		ref, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("%d: proto.Marshal: %v", i, err)
		}
		out, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%d: Codec.Marshal: %v", i, err)
		}
		enc := out.Materialize()
		out.Free()
		if !bytes.Equal(enc, ref) {
			t.Errorf("%d %T: Codec.Marshal = %x, proto.Marshal = %x", i, m, enc, ref)
		}
		// The reflective codec reads what this one wrote...
		back := m.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(enc, back); err != nil {
			t.Fatalf("%d: proto.Unmarshal: %v", i, err)
		}
		if !proto.Equal(back, m) {
			t.Errorf("%d: proto.Unmarshal(Codec.Marshal(m)) = %v, want %v", i, back, m)
		}
		// ...and this one reads what the reflective one wrote, from one
		// buffer or many, into a fresh message or a used one.
		for _, piece := range []int{len(ref) + 1, 7, 1} {
			for _, into := range []proto.Message{m.ProtoReflect().New().Interface(), dirty(m)} {
				src := bytes.Clone(ref)
				if err := c.Unmarshal(split(src, piece), into); err != nil {
					t.Fatalf("%d: Codec.Unmarshal: %v", i, err)
				}
				// The message must not share memory with gRPC's buffers,
				// which are reused once Unmarshal returns.
				for j := range src {
					src[j] = 0xaa
				}
				if !proto.Equal(into, m) {
					t.Errorf("%d (pieces of %d): Codec.Unmarshal(proto.Marshal(m)) = %v, want %v", i, piece, into, m)
				}
			}
		}
	}
}

// dirty returns a message of m's type with fields set that m may not
// have: Unmarshal must reset it, as proto.Unmarshal does.
func dirty(m proto.Message) proto.Message {
	switch m.(type) {
	case *ClientFrame:
		return &ClientFrame{Messages: clientMessages()[:3]}
	case *ServerFrame:
		return &ServerFrame{Messages: serverMessages()[:3]}
	case *ClientMessage:
		return &ClientMessage{Id: 77, Body: &ClientMessage_Register{Register: &RegisterRequest{Xid: "x", ApplicationData: []byte("old")}}}
	case *ServerMessage:
		return &ServerMessage{Id: 77, Body: &ServerMessage_Reply{Reply: &Reply{Error: &Error{Message: "old"}}}}
	}
	panic("dirty: unexpected type")
}

func TestCodecUnknownFields(t *testing.T) {
	m := &ClientMessage{Id: 5, Body: &ClientMessage_Commit{Commit: &CommitRequest{Xid: "n1:1"}}}
	unknown := protoreflect.RawFields{0xa8, 0x1f, 0x01} // field 501, varint 1
	m.ProtoReflect().SetUnknown(unknown)
	ref, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Codec{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if enc := out.Materialize(); !bytes.Equal(enc, ref) {
		t.Errorf("Codec.Marshal = %x, proto.Marshal = %x", enc, ref)
	}
	var back ClientMessage
	if err := (Codec{}).Unmarshal(split(ref, 2), &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, m) || !bytes.Equal(back.ProtoReflect().GetUnknown(), unknown) {
		t.Errorf("unknown fields lost: %v", &back)
	}
}

// TestCodecLarge covers a message above gRPC's pooling threshold, encoded
// into a pooled buffer.
func TestCodecLarge(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	m := &ServerFrame{Messages: []*ServerMessage{{Id: 1, Body: &ServerMessage_Command{Command: &BranchCommand{
		Xid: "n1:1", ResourceId: strings.Repeat("r", 500), ApplicationData: data}}}}}
	if mem.IsBelowBufferPoolingThreshold(proto.Size(m)) {
		t.Fatal("message too small for the test")
	}
	for range 3 {
		out, err := Codec{}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back ServerFrame
		if err := (Codec{}).Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		out.Free()
		if !proto.Equal(&back, m) {
			t.Fatal("large message changed in a round trip")
		}
	}
}

// TestCodecFallback: messages of other packages go through proto.
func TestCodecFallback(t *testing.T) {
	c := Codec{}
	req := &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}
	out, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := proto.Marshal(req)
	if enc := out.Materialize(); !bytes.Equal(enc, ref) {
		t.Errorf("Codec.Marshal = %x, proto.Marshal = %x", enc, ref)
	}
	var back healthpb.HealthCheckResponse
	if err := c.Unmarshal(split(ref, 1), &back); err != nil || !proto.Equal(&back, req) {
		t.Errorf("Codec.Unmarshal = %v, %v", &back, err)
	}
	if _, err := c.Marshal("not a message"); err == nil {
		t.Error("Marshal of a string: no error")
	}
	if err := c.Unmarshal(split(ref, 1), new(int)); err == nil {
		t.Error("Unmarshal into an int: no error")
	}
}

// TestCodecMalformed: bytes proto.Unmarshal refuses, this codec refuses.
func TestCodecMalformed(t *testing.T) {
	for _, b := range [][]byte{
		{0x0a},             // field 1, length missing
		{0x0a, 0x05, 0x08}, // length past the end
		{0x08},             // varint missing
		{0x07},             // wire type 7
		{0x0a, 0x02, 0x12, 0x05},
	} {
		if err := proto.Unmarshal(b, new(ClientFrame)); err == nil {
			t.Fatalf("%x: proto.Unmarshal accepts it; bad test case", b)
		}
		if err := (Codec{}).Unmarshal(split(b, 100), new(ClientFrame)); err == nil {
			t.Errorf("%x: Codec.Unmarshal accepts what proto.Unmarshal refuses", b)
		}
	}
}

// TestCodecRefusesInvalidUTF8 puts a string that is not UTF-8 in each
// field of each message of the protocol, directly or in a nested message,
// and checks that this codec, like proto, refuses to encode it and to
// decode its encoding.
func TestCodecRefusesInvalidUTF8(t *testing.T) {
	msgs := File_proto_txc_v1_coordinator_proto.Messages()
	cases := 0
	for i := range msgs.Len() {
		md := msgs.Get(i)
		if _, ok := newMessage(t, md).(vtMessage); !ok {
			t.Errorf("%s does not use the generated code", md.FullName())
			continue
		}
		fields := md.Fields()
		for j := range fields.Len() {
			f := fields.Get(j)
			m := newMessage(t, md)
			if !setBad(t, m.ProtoReflect(), f) {
				continue
			}
			cases++
			if _, err := proto.Marshal(m); err == nil {
				t.Fatalf("%s: proto.Marshal accepts it; bad test case", f.FullName())
			}
			if _, err := (Codec{}).Marshal(m); err == nil {
				t.Errorf("%s: Codec.Marshal accepts a string that is not UTF-8", f.FullName())
			}
			enc, err := m.(interface{ MarshalVT() ([]byte, error) }).MarshalVT()
			if err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(enc, newMessage(t, md)); err == nil {
				t.Fatalf("%s: proto.Unmarshal accepts it; bad test case", f.FullName())
			}
			if err := (Codec{}).Unmarshal(split(enc, 1000), newMessage(t, md)); err == nil {
				t.Errorf("%s: Codec.Unmarshal accepts a string that is not UTF-8", f.FullName())
			}
		}
	}
	if cases < 40 {
		t.Errorf("only %d cases", cases)
	}
}

func newMessage(t *testing.T, md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}

// setBad sets f of m to a string that is not UTF-8, or to a message that
// holds one; false if f cannot hold one.
func setBad(t *testing.T, m protoreflect.Message, f protoreflect.FieldDescriptor) bool {
	var v protoreflect.Value
	switch f.Kind() {
	case protoreflect.StringKind:
		v = protoreflect.ValueOfString("ok\xffok")
	case protoreflect.MessageKind:
		child := newMessage(t, f.Message())
		found := false
		fields := f.Message().Fields()
		for i := 0; i < fields.Len() && !found; i++ {
			found = setBad(t, child.ProtoReflect(), fields.Get(i))
		}
		if !found {
			return false
		}
		v = protoreflect.ValueOfMessage(child.ProtoReflect())
	default:
		return false
	}
	if f.IsList() {
		l := m.Mutable(f).List()
		if f.Kind() == protoreflect.StringKind {
			l.Append(protoreflect.ValueOfString("fine"))
		}
		l.Append(v)
	} else {
		m.Set(f, v)
	}
	return true
}

// benchFrames are frames like those of a two-branch transaction under load:
// requests from a client, replies and commands from the coordinator.
func benchFrames() (*ClientFrame, *ServerFrame) {
	cf := &ClientFrame{}
	sf := &ServerFrame{}
	for i := range 8 {
		id := uint64(1000 + i)
		cf.Messages = append(cf.Messages,
			&ClientMessage{Id: id, Body: &ClientMessage_Begin{Begin: &BeginRequest{Name: "bench", TimeoutMs: 30000, Xid: "n1:123456"}}},
			&ClientMessage{Id: id + 1, Body: &ClientMessage_Register{Register: &RegisterRequest{Xid: "n1:123456", BranchType: BranchType_BRANCH_TYPE_AT,
				ResourceId: "bench-a", LockKeys: []*LockKey{{Table: "account", Rows: []string{"17-123456"}}}}}},
			&ClientMessage{Id: id + 2, Body: &ClientMessage_Commit{Commit: &CommitRequest{Xid: "n1:123456"}}})
		sf.Messages = append(sf.Messages,
			&ServerMessage{Id: id + 1, Body: &ServerMessage_Reply{Reply: &Reply{Result: &Reply_Register{Register: &RegisterReply{BranchId: 123457}}}}},
			&ServerMessage{Id: id + 2, Body: &ServerMessage_Reply{Reply: &Reply{Result: &Reply_Global{Global: &GlobalStatusReply{Status: GlobalStatus_GLOBAL_STATUS_COMMITTED}}}}},
			&ServerMessage{Id: id + 3, Body: &ServerMessage_Command{Command: &BranchCommand{Action: BranchAction_BRANCH_ACTION_COMMIT,
				Xid: "n1:123456", BranchId: 123457, BranchType: BranchType_BRANCH_TYPE_AT, ResourceId: "bench-a"}}})
	}
	return cf, sf
}

// BenchmarkCodec compares this codec with proto (what gRPC's default codec
// calls) on benchFrames.
func BenchmarkCodec(b *testing.B) {
	cf, sf := benchFrames()
	for _, m := range []proto.Message{cf, sf} {
		enc, err := proto.Marshal(m)
		if err != nil {
			b.Fatal(err)
		}
		name := string(m.ProtoReflect().Descriptor().Name())
		b.Run(name+"/marshal/vt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := Codec{}.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
		b.Run(name+"/marshal/proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := proto.Marshal(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/unmarshal/vt", func(b *testing.B) {
			b.ReportAllocs()
			in := mem.BufferSlice{mem.SliceBuffer(enc)}
			for b.Loop() {
				if err := (Codec{}).Unmarshal(in, m.ProtoReflect().New().Interface()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/unmarshal/proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := proto.Unmarshal(enc, m.ProtoReflect().New().Interface()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/validUTF8", func(b *testing.B) {
			v := m.(vtMessage)
			for b.Loop() {
				if !v.validUTF8() {
					b.Fatal("invalid")
				}
			}
		})
	}
}
