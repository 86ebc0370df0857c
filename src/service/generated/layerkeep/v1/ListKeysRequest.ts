// Original file: proto/layerkeep.proto


export interface ListKeysRequest {
}

export interface ListKeysRequest__Output {
}
