// The domain events the folds read, under the names projections/ uses. The
// types, their fields and the parse are domain/ (domain/event_types.h,
// domain/domain_event.h); a parse error makes a poison event.

#ifndef VIGIL_PROJECTIONS_DOMAIN_EVENT_H_
#define VIGIL_PROJECTIONS_DOMAIN_EVENT_H_

#include "domain/domain_event.h"

namespace vigil::projections {

using domain::DomainEvent;
using domain::DomainType;
using domain::DomainTypeOf;
using domain::ParseDomainEvent;

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_DOMAIN_EVENT_H_
