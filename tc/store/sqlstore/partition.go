package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Several active nodes keep one store each in a shared database: the
// tables of node n's partition begin with PartitionPrefix(base, n).

// PartitionPrefix is the table prefix of node's partition under the
// cluster's base prefix: base, the node name folded to [a-z0-9_] and cut
// to fit, and a hash of the exact name (node names differing only in case
// or punctuation get different tables). It fails with ErrInvalid when
// base leaves no room for the rest.
func PartitionPrefix(base, node string) (string, error) {
	if err := CheckTablePrefix(base); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(node))
	tail := "_" + hex.EncodeToString(sum[:3]) + "_"
	room := maxTablePrefix - len(base) - len(tail)
	if room < 1 || node == "" {
		return "", fmt.Errorf("%w: table prefix %q leaves no room for partition names (at most %d bytes)", ErrInvalid, base, maxTablePrefix-len(tail)-1)
	}
	folded := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, node)
	return base + folded[:min(len(folded), room)] + tail, nil
}
