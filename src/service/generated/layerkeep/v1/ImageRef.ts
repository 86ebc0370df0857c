// Original file: proto/layerkeep.proto


export interface ImageRef {
  'id'?: (string);
  'name'?: (string);
}

export interface ImageRef__Output {
  'id': (string);
  'name': (string);
}
