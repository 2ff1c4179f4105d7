// Curve keys: CURVE key pairs and the files that hold them (README "Security").
//
// Key files (written by `leaseq-ctl keygen PATH`):
//   PATH.secret  the SECRET key only: one line of 40 Z85 characters and a
//                newline, mode 0600. The public key is derived from it
//                (zmq_curve_public), so a peer needs only this file for its
//                own pair.
//   PATH.pub     the PUBLIC key: one line of 40 Z85 characters and a newline,
//                mode 0644. Given to the broker's --curve-allow directory (a
//                worker's or client's) or to peers' --curve-server (the
//                broker's).
// Leading/trailing white space (e.g. a CRLF) is ignored when reading.
//
// Errors are Status values whose messages name the file and the fix.
// Thread-safe: no shared state.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace leaseq::curve {

// Whether this libzmq was built with CURVE (zmq_has("curve")).
bool Available();

// Z85 text of a CURVE key: 40 characters.
inline constexpr size_t kKeyTextLength = 40;

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh random pair (zmq_curve_keypair). Unavailable without CURVE.
Status Generate(KeyPair* out);

// Ok when text is a CURVE key in Z85 (40 characters of the Z85 alphabet).
// what names it in the message (e.g. a file name).
Status CheckKeyText(const std::string& text, const std::string& what);

// Writes path + ".secret" (secret key, created with mode 0600) and path +
// ".pub" (public key, 0644), making missing directories (mode 0700).
// Never overwrites: Conflict when either exists.
// On a failure nothing is left behind. IoError for a file system error.
Status WriteKeyFiles(const std::string& path, const KeyPair& keys);

// Reads a .secret file and derives its public key. Refuses a file named
// *.pub (the wrong half of the pair).
Status LoadSecretFile(const std::string& file, KeyPair* out);
// Reads a .pub file. Refuses a file named *.secret (a secret is never given
// to anyone else).
Status LoadPublicFile(const std::string& file, std::string* public_key);

// The public keys of the *.pub files in dir (following symbolic links),
// key (Z85) -> file name without ".pub". Files that are not valid keys are
// skipped and described in *bad (one "file: problem" each). IoError when
// dir cannot be read.
Status ReadAllowDir(const std::string& dir, std::map<std::string, std::string>* keys,
                    std::vector<std::string>* bad);

}  // namespace leaseq::curve
