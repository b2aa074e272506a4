package txcv1

// Flow-control windows of txc's own connections, set on both ends. A
// window set by hand turns off gRPC's bandwidth estimation (BDP pings),
// which on a mostly idle stream costs a ping and its ack per message
// burst. Both are far above what the protocol keeps in flight (frames are
// small and each stream's writer batches them), so they never stall it;
// a frame near the maximum message size waits for window updates.
const (
	StreamWindow = 4 << 20
	ConnWindow   = 8 << 20
)
