package tcc

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// The application data of a TCC branch names the participant and carries
// its arguments. Two formats are read; the second is written:
//
//	version 1, JSON:   {"v":1,"p":"<participant>","a":<arguments as JSON>}
//	version 2, binary: 0x02, uvarint len(participant), participant, arguments as JSON
//
// The binary frame spares the RM a JSON decode of the whole envelope on
// every Confirm and Cancel. A JSON envelope always starts with '{' (0x7B),
// so the first byte tells the formats apart; later binary versions will use
// the bytes 0x03..0x1F. Data of such a version is answered with a retryable
// failure, so an RM instance that knows it may take the branch; anything
// else unreadable is a permanent failure.
//
// Arguments are encoded with encoding/json, so they must survive a JSON
// round trip into their Go type (exported fields; int64 and uint64 are exact
// when decoded into typed fields; values of interface type come back as
// float64, map or slice).
const (
	envelopeJSON    = 1
	envelopeBinary  = 2
	envelopeVersion = envelopeBinary // the newest version this binary reads and the one it writes
)

// envelope is decoded application data. P and A may be subslices of the
// data.
type envelope struct {
	V int
	P []byte          // participant name
	A json.RawMessage // arguments
}

func encodeArgs[A any](participant string, args A) ([]byte, error) {
	a, err := json.Marshal(args)
	if err != nil {
		return nil, invalid("participant %q: encode arguments: %v", participant, err)
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(participant)+len(a))
	b = append(b, envelopeBinary)
	b = binary.AppendUvarint(b, uint64(len(participant)))
	b = append(b, participant...)
	return append(b, a...), nil
}

// decodeEnvelope reads application data; newer reports a version this code
// does not know. The binary frame, read on every Confirm and Cancel, is read
// in place, without allocating.
func decodeEnvelope(data []byte) (e envelope, newer bool, err error) {
	switch {
	case len(data) == 0:
		return e, false, fmt.Errorf("tcc: empty branch application data")
	case data[0] == '{':
		return decodeJSONEnvelope(data)
	case data[0] == envelopeBinary:
		n, k := binary.Uvarint(data[1:])
		if k <= 0 || n == 0 || n > uint64(len(data)-1-k) {
			return e, false, fmt.Errorf("tcc: malformed branch application data: bad participant length")
		}
		start := 1 + k
		// The arguments are checked when the participant decodes them.
		e.V, e.P, e.A = envelopeBinary, data[start:start+int(n)], data[start+int(n):]
		return e, false, nil
	case data[0] > envelopeBinary && data[0] < 0x20:
		return e, true, fmt.Errorf("tcc: branch application data version %d is newer than this binary's %d", data[0], envelopeVersion)
	default:
		return e, false, fmt.Errorf("tcc: malformed branch application data: unknown format byte %#x", data[0])
	}
}

// decodeJSONEnvelope reads version 1. It is a function of its own because
// json.Unmarshal makes what it fills escape to the heap: inline, it would
// cost the binary frame an allocation too.
func decodeJSONEnvelope(data []byte) (e envelope, newer bool, err error) {
	var j struct {
		V int             `json:"v"`
		P string          `json:"p"`
		A json.RawMessage `json:"a"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		return e, false, fmt.Errorf("tcc: malformed branch application data: %w", err)
	}
	if j.V > envelopeJSON {
		return e, true, fmt.Errorf("tcc: branch application data version %d is newer than this binary's %d", j.V, envelopeVersion)
	}
	if j.V < 1 || j.P == "" {
		return e, false, fmt.Errorf("tcc: branch application data without version or participant")
	}
	return envelope{V: j.V, P: []byte(j.P), A: j.A}, false, nil
}
