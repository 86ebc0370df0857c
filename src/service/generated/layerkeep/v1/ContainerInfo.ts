// Original file: proto/layerkeep.proto


export interface ContainerInfo {
  'id'?: (string);
  'name'?: (string);
  'key'?: (string);
  'upperDir'?: (string);
  'image'?: (string);
  'state'?: (string);
  'updatedAt'?: (string);
}

export interface ContainerInfo__Output {
  'id': (string);
  'name': (string);
  'key': (string);
  'upperDir': (string);
  'image': (string);
  'state': (string);
  'updatedAt': (string);
}
