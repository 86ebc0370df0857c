// Original file: proto/layerkeep.proto


export interface PendingUploadsRequest {
}

export interface PendingUploadsRequest__Output {
}
