// Original file: proto/layerkeep.proto


export interface RestoreRequest {
  'key'?: (string);
  'dir'?: (string);
  'snapshot'?: (string);
  'force'?: (boolean);
  'allowDevices'?: (boolean);
  'mode'?: (string);
}

export interface RestoreRequest__Output {
  'key': (string);
  'dir': (string);
  'snapshot': (string);
  'force': (boolean);
  'allowDevices': (boolean);
  'mode': (string);
}
