package tcc

import (
	"encoding/json"
	"fmt"
)

// envelopeVersion is the version of the application data format. A branch
// written by a newer version than this binary understands is answered with a
// retryable failure, so an RM instance that understands it may take it.
const envelopeVersion = 1

// envelope is the application data of a TCC branch:
//
//	{"v":1,"p":"<participant>","a":<arguments as JSON>}
//
// Arguments are encoded with encoding/json, so they must survive a JSON
// round trip into their Go type (exported fields; int64 and uint64 are exact
// when decoded into typed fields; values of interface type come back as
// float64, map or slice).
type envelope struct {
	V int             `json:"v"`
	P string          `json:"p"`
	A json.RawMessage `json:"a"`
}

func encodeArgs[A any](participant string, args A) ([]byte, error) {
	a, err := json.Marshal(args)
	if err != nil {
		return nil, invalid("participant %q: encode arguments: %v", participant, err)
	}
	return json.Marshal(envelope{V: envelopeVersion, P: participant, A: a})
}

// decodeEnvelope reads application data; newer reports a version this code
// does not know.
func decodeEnvelope(data []byte) (e envelope, newer bool, err error) {
	if err := json.Unmarshal(data, &e); err != nil {
		return e, false, fmt.Errorf("tcc: malformed branch application data: %w", err)
	}
	if e.V > envelopeVersion {
		return e, true, fmt.Errorf("tcc: branch application data version %d is newer than this binary's %d", e.V, envelopeVersion)
	}
	if e.V < 1 || e.P == "" {
		return e, false, fmt.Errorf("tcc: branch application data without version or participant")
	}
	return e, false, nil
}
