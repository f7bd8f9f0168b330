import type { AppDeps } from '../../context.js';
import { maskPhone } from '../../crypto/pii.js';
import { smsOutbox } from './auth.schema.js';
import { renderSms, type SmsMessage, type SmsReceipt, type SmsSender } from './sms-sender.js';

/**
 * Development provider: nothing leaves the machine. The message is kept in the outbox (the console and
 * `GET /v1/dev/sms-outbox` show it outside production) and, in development only, its text is logged with
 * the phone masked.
 */
export class OutboxSmsSender implements SmsSender {
  readonly provider = 'outbox';

  constructor(private readonly deps: Pick<AppDeps, 'db' | 'vault' | 'log' | 'now' | 'config'>) {}

  async send(message: SmsMessage): Promise<SmsReceipt> {
    const body = renderSms(message);
    const [row] = await this.deps.db
      .insert(smsOutbox)
      .values({
        phoneEnc: this.deps.vault.encrypt(message.phone, 'phone'),
        phoneMasked: maskPhone(message.phone),
        template: message.template,
        body,
        provider: this.provider,
        delivered: true,
        createdAt: this.deps.now(),
      })
      .returning({ id: smsOutbox.id });
    // The text holds a login code: only a developer's own log may show it.
    if (this.deps.config.NODE_ENV === 'development') this.deps.log.info({ to: maskPhone(message.phone), sms: body }, 'SMS kept in the development outbox');
    else this.deps.log.info({ to: maskPhone(message.phone), template: message.template }, 'SMS kept in the outbox');
    return { provider: this.provider, messageId: row!.id };
  }
}
