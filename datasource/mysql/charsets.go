package mysql

// roundTrips lists the character sets whose every value a column can
// store comes back as the same bytes after a conversion to utf8mb4 and
// back: images read text through a utf8mb4 connection, and a rollback
// writes it back through one. The others lose text the server stores
// without complaint, silently (the rollback's own check reads through
// utf8mb4 too, so it sees no difference): cp932 has two codes for some
// characters and gives back the other (0x8790 returns as 0x81E0), gbk,
// big5, sjis, ujis, eucjpms, euckr and gb2312 hold codes that utf8mb4
// lacks (they return as ?), and so do bytes an ascii column takes from a
// hex literal (0xFF) and the undefined bytes of greek, cp1250, hebrew
// and other 8-bit sets. Measured on MariaDB 10.11 over every 1- and
// 2-byte value (TestCharsetsRoundTrip checks the list).
var roundTrips = map[string]bool{}

func init() {
	for _, cs := range []string{
		"utf8mb4", "utf8mb3", "utf8", "ucs2", "utf16", "utf16le", "utf32",
		"latin1", "latin2", "latin5", "latin7", "cp850", "cp852", "cp866", "koi8r", "koi8u", "keybcs2", "macce", "macroman",
	} {
		roundTrips[cs] = true
	}
}
