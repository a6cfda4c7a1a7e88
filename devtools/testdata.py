"""The values the tests, the benches and the runner emulator share: one commit (the
emulator's GITHUB_SHA), another, and one token."""

SHA = "ffac537e6cbbf934b08745a378932722df287a53"
OTHER_SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "nf-test-token-3f9a1c77"
