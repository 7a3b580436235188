// PgConnection: a pqxx::connection under a name of our own, so that a
// public header can hold one (std::unique_ptr<internal::PgConnection>) by a
// forward declaration without including libpqxx. Header-only.

#ifndef VIGIL_PROJECTIONS_INTERNAL_PG_CONNECTION_H_
#define VIGIL_PROJECTIONS_INTERNAL_PG_CONNECTION_H_

#include <pqxx/pqxx>

namespace vigil::projections::internal {

class PgConnection : public pqxx::connection {
 public:
  using pqxx::connection::connection;
};

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_PG_CONNECTION_H_
