// CKVM is header-only (static inline accessors and ioctl shims); this file gives SwiftPM the
// one translation unit a C target needs, and checks that the header compiles as plain C.
#include "CKVM.h"
