// The FUSE operations of vigil-lazyfs: every call goes through to the
// backing directory at once (like libfuse's example/passthrough_fh.c, one
// file descriptor per open file) and reports what it changed to the
// DurableState, which fsync and fsyncdir update.
//
// Not modelled: xattrs (ENOTSUP), RENAME_EXCHANGE (EINVAL), device nodes
// and fifos (mknod is absent).

#ifndef VIGIL_TOOLS_LAZYFS_PASSTHROUGH_H_
#define VIGIL_TOOLS_LAZYFS_PASSTHROUGH_H_

#define FUSE_USE_VERSION 31
#include <fuse.h>

#include "tools/lazyfs/durable_state.h"

namespace vigil::lazyfs {

// What the operations need; passed to fuse_main as its private data and
// outliving the mount.
struct Backing {
  int root_fd;  // the backing directory (O_RDONLY | O_DIRECTORY)
  DurableState* state;
};

// The operations; they find their Backing in fuse_get_context().
const fuse_operations& PassthroughOperations();

}  // namespace vigil::lazyfs

#endif  // VIGIL_TOOLS_LAZYFS_PASSTHROUGH_H_
