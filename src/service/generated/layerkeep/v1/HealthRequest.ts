// Original file: proto/layerkeep.proto


export interface HealthRequest {
}

export interface HealthRequest__Output {
}
