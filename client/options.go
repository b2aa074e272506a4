package client

import (
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/txcio/txc/cluster"
)

// DefaultMaxMessageSize is the frame size limit the client assumes the
// coordinator enforces (16 MiB).
const DefaultMaxMessageSize = 16 << 20

// Option configures Dial.
type Option func(*options)

type options struct {
	name           string
	log            *slog.Logger
	backoff        Backoff
	dialOpts       []grpc.DialOption
	maxMsg         int
	connectTimeout time.Duration
	dialTimeout    time.Duration
	dialTimeoutSet bool // by WithDialTimeout: applies whatever ctx's deadline
	tls            *tls.Config
	token          string
	etcdTLS        *tls.Config     // WithEtcdTLS
	etcdCAFile     string          // WithEtcdCAFile
	etcdCA         *cluster.CAFile // opened from etcdCAFile at Dial
	etcdUser       string          // WithEtcdAuth
	etcdPassword   string
}

// DefaultDialTimeout is how long Dial keeps trying to reach a coordinator
// unless WithDialTimeout says otherwise.
const DefaultDialTimeout = 5 * time.Second

func defaultOptions() options {
	return options{
		name:           "txc-client",
		log:            slog.New(slog.DiscardHandler),
		backoff:        Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second},
		maxMsg:         DefaultMaxMessageSize,
		connectTimeout: 10 * time.Second,
		dialTimeout:    DefaultDialTimeout,
	}
}

// WithName sets the client name sent in Hello (for the coordinator's logs;
// not an identity).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithBackoff sets the reconnect backoff: the first redial waits about min,
// each further one twice as long, capped at max. Defaults 100ms and 5s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.backoff.Min, o.backoff.Max = min, max }
}

// WithJitter sets the random source of the reconnect backoff: f returns a
// duration in [0, n). For deterministic tests.
func WithJitter(f func(n time.Duration) time.Duration) Option {
	return func(o *options) { o.backoff.Jitter = f }
}

// WithDialOptions adds gRPC dial options (keepalive, …). The default
// transport is plaintext, meant for loopback; WithTLS and WithToken set
// the credentials.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithMaxMessageSize sets the largest frame sent or received, in bytes
// (default DefaultMaxMessageSize). It must not exceed the coordinator's
// limit: a frame larger than that ends the stream.
func WithMaxMessageSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxMsg = n
		}
	}
}

// WithConnectTimeout bounds one background connection attempt (open the
// stream, send Hello, get its reply). Default 10s.
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.connectTimeout = d
		}
	}
}

// WithDialTimeout bounds how long Dial keeps trying to reach the
// coordinator, whatever its ctx allows. Without it, a Dial whose ctx has
// no deadline gives up after DefaultDialTimeout, so that a coordinator
// that is down or a wrong address fails fast instead of silently retrying
// forever. Either way the error wraps txc.ErrUnavailable and names the
// target and the last failure. Zero or less: only Dial's ctx bounds it.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) { o.dialTimeout, o.dialTimeoutSet = max(d, 0), true }
}
