package txcv1

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// Codec is the gRPC codec of txc's own connections: the client forces it
// with grpc.ForceCodecV2 and the coordinator with grpc.ForceServerCodecV2.
// It is never registered globally (encoding.RegisterCodecV2), so the other
// gRPC connections of a process keep their codec.
//
// The messages of this package are encoded and decoded by the generated,
// reflection-free SizeVT, MarshalToSizedBufferVT and UnmarshalVT
// (coordinator_vtproto.pb.go); any other message (the health service's, for
// one) by google.golang.org/protobuf/proto, as gRPC's default codec does.
// Both paths produce and accept the same bytes, and the same messages:
// strings must be valid UTF-8 (utf8.go), and Unmarshal resets the message
// first. Unmarshal copies every string and bytes field, so the message keeps
// no reference to gRPC's buffers, which are freed when it returns. The Name
// is "proto", so the wire (content-type application/grpc+proto) is
// unchanged.
type Codec struct{}

// vtMessage is a message of this package: generated codec methods and the
// UTF-8 check of utf8.go.
type vtMessage interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
	UnmarshalVT([]byte) error
	Reset()
	validUTF8() bool
}

var errInvalidUTF8 = errors.New("txcv1: string field contains invalid UTF-8")

// Marshal encodes v into one buffer: a plain allocation for small messages,
// a buffer from gRPC's default pool, which gRPC frees, for large ones.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMessage)
	if !ok {
		pm, err := protoMessage(v)
		if err != nil {
			return nil, err
		}
		b, err := proto.Marshal(pm)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	if !m.validUTF8() {
		return nil, errInvalidUTF8
	}
	// MarshalToSizedBufferVT writes backwards from the end of the buffer and
	// returns the count written: the encoding is the last n bytes. n is
	// size unless SizeVT overestimates (vtprotobuf before April 2024 did, for
	// a oneof member holding a nil message); the tail is right either way.
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		b := make([]byte, size)
		n, err := m.MarshalToSizedBufferVT(b)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b[size-n:])}, nil
	}
	pool := mem.DefaultBufferPool()
	b := pool.Get(size) // len(*b) == size
	n, err := m.MarshalToSizedBufferVT(*b)
	if err != nil {
		pool.Put(b)
		return nil, err
	}
	if n < size { // the pool takes back prefixes only
		copy(*b, (*b)[size-n:])
		*b = (*b)[:n]
	}
	return mem.BufferSlice{mem.NewBuffer(b, pool)}, nil
}

// Unmarshal decodes data into v. data is read in place when it is one
// buffer, else copied into one from gRPC's pool and released here.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	m, ok := v.(vtMessage)
	if !ok {
		pm, err := protoMessage(v)
		if err != nil {
			return err
		}
		return proto.Unmarshal(buf.ReadOnlyData(), pm)
	}
	m.Reset()
	if err := m.UnmarshalVT(buf.ReadOnlyData()); err != nil {
		return err
	}
	if !m.validUTF8() {
		return errInvalidUTF8
	}
	return nil
}

// Name is "proto", the content-subtype of gRPC's default codec.
func (Codec) Name() string { return "proto" }

func protoMessage(v any) (proto.Message, error) {
	switch m := v.(type) {
	case protoadapt.MessageV2:
		return m, nil
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(m), nil
	}
	return nil, fmt.Errorf("txcv1: cannot encode or decode %T: not a protobuf message", v)
}
