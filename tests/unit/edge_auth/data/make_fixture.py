# Makes signed.eml and its two key records with dkimpy (an outside signer): an ed25519-sha256
# signature (selector "ed") and an rsa-sha256 one (selector "rs") by signed.test. Run with
# Debian's python3 (python3-dkim): /usr/bin/python3 make_fixture.py. The unit tests read the
# result; running it again makes new keys and signatures, which the tests accept as well.
import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

MSG = (b"From: Alice <alice@signed.test>\r\nTo: bob@example.org\r\nSubject: fixture\r\n"
       b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <fixture@signed.test>\r\n\r\n"
       b"Hello Bob,\r\nthis body is signed.\r\n")
HDRS = [b"from", b"to", b"subject", b"date", b"message-id"]

k = ed25519.Ed25519PrivateKey.generate()
seed = base64.b64encode(k.private_bytes(serialization.Encoding.Raw,
                                        serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption()))
pub = base64.b64encode(k.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)).decode()
ed_sig = dkim.sign(MSG, b"ed", b"signed.test", seed, signature_algorithm=b"ed25519-sha256",
                   include_headers=HDRS)
r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = r.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                      serialization.NoEncryption())
rpub = base64.b64encode(r.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
rsa_sig = dkim.sign(MSG, b"rs", b"signed.test", pem, include_headers=HDRS)
with open("signed.eml", "wb") as f:
    f.write(rsa_sig + ed_sig + MSG)
with open("ed._domainkey.signed.test.txt", "w") as f:
    f.write("v=DKIM1; k=ed25519; p=" + pub + "\n")
with open("rs._domainkey.signed.test.txt", "w") as f:
    f.write("v=DKIM1; k=rsa; p=" + rpub + "\n")
