// Text for the ClusterStatus of a coordinator, shared by the tables that
// print it (`tessera status`, tessera-sim's plan report).
#ifndef TESSERA_COORDINATOR_STAGE_STATUS_TEXT_H_
#define TESSERA_COORDINATOR_STAGE_STATUS_TEXT_H_

#include <string>

#include "tessera/v1/coordinator.pb.h"

namespace tessera::coordinator {

// The stage's layer formats: one name when all layers share it ("q8_0"),
// else the comma-separated list in layer order.
std::string StageFormatsText(const v1::StageStatus& stage);

}  // namespace tessera::coordinator

#endif  // TESSERA_COORDINATOR_STAGE_STATUS_TEXT_H_
