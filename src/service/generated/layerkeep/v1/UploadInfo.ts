// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface UploadInfo {
  'id'?: (number | string | Long);
  'key'?: (string);
  'status'?: (string);
  'size'?: (number | string | Long);
  'partsDone'?: (number | string | Long);
  'bytesDone'?: (number | string | Long);
  'error'?: (string);
  'started'?: (string);
  'updated'?: (string);
}

export interface UploadInfo__Output {
  'id': (number);
  'key': (string);
  'status': (string);
  'size': (number);
  'partsDone': (number);
  'bytesDone': (number);
  'error': (string);
  'started': (string);
  'updated': (string);
}
