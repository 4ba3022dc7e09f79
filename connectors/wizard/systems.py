"""What the connection wizard asks of each system: the fields its connector reads (from
``credentials`` or ``settings``), where the operator finds each value in that system, where
the webhook URL goes, and what a real test looks like. Texts only; no behaviour."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One value the connector reads. ``secret`` values are typed, never shown back."""

    key: str
    label: str
    help: str
    secret: bool = False
    setting: bool = False  # stored in Connection.settings rather than the encrypted credentials
    kind: str = "text"  # "text" | "int" | "bool"
    required: bool = False  # a new connection cannot be made without it


@dataclass(frozen=True)
class SystemSpec:
    system: str
    description: str
    fields: tuple[Field, ...]
    #: None: the system is never called by the hub, no base URL is asked
    base_url_help: str | None = ""
    base_url_required: bool = False
    base_url_initial: str = ""
    #: alternative credential sets for a new connection: one of them must be filled in whole
    required_any: tuple[tuple[str, ...], ...] = ()
    #: what to look at when the connection check fails
    check_hint: str = ""
    #: where the webhook URL is pasted; "" = the system sends no webhooks (the step is skipped)
    webhook_where: str = ""
    #: field keys asked on the webhook step (values the operator gets while setting the webhook up)
    webhook_fields: tuple[str, ...] = ()
    #: appended to the webhook URL (e.g. SMSC's charset)
    webhook_suffix: str = ""
    #: what the operator does for a real end-to-end test when the hub neither pushes nor pulls
    real_test: str = ""

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    @property
    def credential_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.key not in self.webhook_fields)

    @property
    def hook_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.key in self.webhook_fields)


RATE_NOTE = "Пусто — адрес сервиса по умолчанию; другой адрес нужен только для эмулятора в песочнице."

SPECS: dict[str, SystemSpec] = {s.system: s for s in (
    SystemSpec(
        "lime", "Лайм — билеты и касса: хаб сам забирает клиентов с детьми и картами, чеки, проходы и предзаказы.",
        base_url_required=True,
        base_url_help="Адрес API Лайма вашей площадки (его сообщает поддержка Лайма), без «/» на конце.",
        fields=(
            Field("username", "Логин API", "Пользователь Лайма с доступом к API: Лайм → Администрирование → "
                  "Пользователи (или выдаёт поддержка Лайма).", required=True),
            Field("password", "Пароль API", "Пароль этого пользователя.", secret=True, required=True),
            Field("client_id", "OAuth client_id", "Обычно не нужен: по умолчанию Jade.Api. Меняйте, только если "
                  "поддержка Лайма выдала другой."),
            Field("installation_id", "Номер площадки", "ID площадки (installation) в Лайме: Администрирование → "
                  "Площадки. По умолчанию 1.", setting=True, kind="int"),
            Field("cashdesk_id", "Номер кассы", "ID кассы, по которой читается дерево товаров: Администрирование → "
                  "Кассы. По умолчанию 1.", setting=True, kind="int"),
            Field("create_contacts_in_lime", "Создавать в Лайме новых клиентов",
                  "Клиент, пришедший из CRM, с сайта или из бота, будет создан в Лайме (один раз).",
                  setting=True, kind="bool"),
        ),
        check_hint="Проверьте адрес API, логин и пароль (войдите ими в Лайм) и что у пользователя есть доступ к API.",
    ),
    SystemSpec(
        "amocrm", "amoCRM — контакты с карточкой клиента и сделки по покупкам, проходам и броням; правки менеджеров "
        "возвращаются в хаб.",
        base_url_required=True,
        base_url_help="Адрес аккаунта: https://<поддомен>.amocrm.ru (как в адресной строке браузера).",
        required_any=(("long_lived_token",), ("client_id", "client_secret", "redirect_uri", "authorization_code")),
        fields=(
            Field("subdomain", "Поддомен", "Часть адреса до .amocrm.ru. Пусто — возьмётся из адреса аккаунта. "
                  "По нему хаб узнаёт вебхуки своего аккаунта.", setting=True),
            Field("long_lived_token", "Долгосрочный токен", "amoCRM → Настройки → Интеграции → ваша внешняя "
                  "интеграция → «Ключи и доступы» → «Сгенерировать долгосрочный токен». С ним поля OAuth ниже "
                  "не нужны.", secret=True),
            Field("client_id", "ID интеграции", "Там же, «Ключи и доступы»: ID интеграции (для входа по OAuth)."),
            Field("client_secret", "Секретный ключ", "Там же: секретный ключ интеграции.", secret=True),
            Field("redirect_uri", "Ссылка для перенаправления", "Ровно та, что указана в настройках интеграции."),
            Field("authorization_code", "Код авторизации", "Там же: код авторизации. Он одноразовый и живёт "
                  "20 минут — введите свежий; после первой проверки хаб хранит токены сам.", secret=True),
        ),
        check_hint="Проверьте адрес аккаунта и токен (или ID интеграции, секрет, ссылку и свежий код авторизации); "
                   "у пользователя интеграции должны быть права на контакты и сделки.",
        webhook_where="amoCRM → Настройки → Интеграции → Web hooks → «Добавить хук»: вставьте URL и отметьте "
                      "события контактов (добавлен, изменён, удалён) и сделок (добавлена, изменена, сменился "
                      "этап, удалена).",
    ),
    SystemSpec(
        "bitrix24", "Битрикс24 — контакты с карточкой клиента и сделки с товарами; события CRM возвращаются в хаб.",
        base_url_help="Адрес портала, например https://company.bitrix24.ru. Нужен для приложения OAuth; "
                      "со входящим вебхуком — только для ссылок на файлы.",
        required_any=(("webhook_url",), ("client_id", "client_secret", "refresh_token")),
        webhook_fields=("application_token",),
        fields=(
            Field("webhook_url", "Входящий вебхук", "Битрикс24 → Приложения → Разработчикам → Другое → Входящий "
                  "вебхук, права: crm (и user — для списка сотрудников). Скопируйте «Вебхук для вызова rest api» "
                  "целиком: https://company.bitrix24.ru/rest/1/abc…/", secret=True),
            Field("client_id", "client_id приложения", "Только если вместо входящего вебхука используется локальное "
                  "приложение: Разработчикам → Локальное приложение → «Код приложения (client_id)»."),
            Field("client_secret", "client_secret приложения", "Там же: «Ключ приложения (client_secret)».",
                  secret=True),
            Field("refresh_token", "refresh_token приложения", "Выдаётся при установке локального приложения.",
                  secret=True),
            Field("application_token", "Токен исходящего вебхука", "Битрикс24 → Разработчикам → Другое → Исходящий "
                  "вебхук: поле «Токен приложения» (application_token), появится после сохранения вебхука с "
                  "URL ниже. Им хаб проверяет, что событие пришло из вашего портала.", secret=True),
        ),
        check_hint="Проверьте, что вебхук скопирован целиком (с кодом в конце) и у него есть право crm; для "
                   "приложения — client_id, client_secret и свежий refresh_token.",
        webhook_where="Битрикс24 → Приложения → Разработчикам → Другое → Исходящий вебхук: URL обработчика — URL "
                      "ниже; события ONCRMCONTACTADD, ONCRMCONTACTUPDATE, ONCRMCONTACTDELETE, ONCRMDEALADD, "
                      "ONCRMDEALUPDATE, ONCRMDEALDELETE. Сохраните и скопируйте «Токен приложения» в поле ниже.",
    ),
    SystemSpec(
        "telegram", "Telegram-бот — согласия, телефон клиента, баланс и брони в чате; рассылки в Telegram.",
        base_url_help=RATE_NOTE,
        fields=(
            Field("token", "Токен бота", "Telegram → @BotFather → /mybots → ваш бот → API Token "
                  "(вида 123456789:AA…).", secret=True, required=True),
        ),
        check_hint="Проверьте токен бота у @BotFather (после /revoke старый токен перестаёт работать).",
        webhook_where="Telegram адрес вебхука задаётся по API: нажмите «Зарегистрировать автоматически» — хаб "
                      "вызовет setWebhook с секретным токеном.",
        real_test="Напишите боту /start в Telegram: бот пришлёт текст согласия, а событие появится ниже.",
    ),
    SystemSpec(
        "vk", "ВКонтакте — бот сообщества (согласия, телефон по SMS-коду, баланс) и рассылки в сообщения.",
        base_url_help=RATE_NOTE,
        webhook_fields=("confirmation", "secret"),
        fields=(
            Field("access_token", "Ключ доступа сообщества", "Управление сообществом → Работа с API → Ключи доступа → "
                  "«Создать ключ» с правом на сообщения сообщества.", secret=True, required=True),
            Field("group_id", "ID сообщества", "Число из адреса club123456 или из раздела Работа с API → Callback API.",
                  setting=True, kind="int", required=True),
            Field("confirmation", "Строка подтверждения", "Callback API → Настройки сервера: «Строка, которую должен "
                  "вернуть сервер»."),
            Field("secret", "Секретный ключ", "Придумайте и впишите в Callback API → «Секретный ключ»; здесь — тот "
                  "же.", secret=True),
        ),
        check_hint="Проверьте ключ доступа (он должен быть ключом сообщества, а не пользователя) и ID сообщества.",
        webhook_where="Управление сообществом → Работа с API → Callback API: версия API 5.199, адрес — URL ниже, "
                      "секретный ключ — как в поле ниже; сохраните здесь строку подтверждения и секрет, затем "
                      "нажмите «Подтвердить» во ВКонтакте. Во вкладке «Типы событий» отметьте «Входящее сообщение».",
        real_test="Напишите сообществу «Начать» во ВКонтакте: бот ответит, а событие появится ниже.",
    ),
    SystemSpec(
        "tilda", "Tilda — заявки и заказы с форм сайта: клиент, согласия, заявка в CRM или покупка с баллами.",
        base_url_help=None,
        fields=(
            Field("api_key", "API-ключ вебхука", "Придумайте длинную строку и вставьте её в Tilda в настройках "
                  "вебхука (поле «API key»); здесь — та же.", secret=True, required=True),
            Field("api_key_field", "Имя поля ключа", "Как Tilda называет поле/заголовок с ключом; по умолчанию "
                  "api_key.", setting=True),
        ),
        check_hint="Задайте API-ключ: Tilda присылает его с каждой заявкой.",
        webhook_where="Tilda → Настройки сайта → Формы → Другое → Webhook: адрес — URL ниже, API key — ключ из "
                      "шага «Учётные данные». Затем в каждой форме (Контент → Приёмные данные) отметьте этот вебхук.",
        real_test="Отправьте форму на опубликованной странице Tilda: заявка появится ниже.",
    ),
    SystemSpec(
        "site", "Сайт (1C-Битрикс) — шаблоны и даты мероприятий из CRM на сайт, продажи билетов с сайта в хаб.",
        base_url_required=True,
        base_url_help="Адрес эндпоинта хаба на сайте, например https://site.ru/local/hub (см. PROTOCOL.md).",
        fields=(
            Field("secret", "Общий секрет", "Тот же секрет, что записан в настройках эндпоинта хаба на сайте "
                  "(им подписываются запросы в обе стороны).", secret=True, required=True),
        ),
        check_hint="Проверьте адрес эндпоинта (откройте …/ping) и что секрет совпадает с настройкой на сайте.",
        webhook_where="В настройках эндпоинта хаба на сайте: адрес хаба для заказов — URL ниже.",
        real_test="Оформите тестовый заказ билета на сайте: продажа появится ниже.",
    ),
    SystemSpec(
        "webhook", "Любая система по протоколу хаба (HTTP): контакты туда и обратно, подписанные события.",
        base_url_required=True,
        base_url_help="Базовый адрес API системы (GET …/ping должен отвечать 200).",
        fields=(
            Field("token", "Токен", "Токен, с которым хаб обращается к системе (Authorization: Bearer …) — выдаёт "
                  "её администратор.", secret=True, required=True),
            Field("secret", "Секрет подписи", "Общий ключ HMAC-SHA256 для заголовка X-Hub-Signature в обе стороны.",
                  secret=True, required=True),
        ),
        check_hint="Проверьте базовый адрес и токен: GET …/ping с этим токеном должен отвечать 200.",
        webhook_where="В настройках системы: адрес для событий — URL ниже (подпись секретом из учётных данных).",
    ),
    SystemSpec(
        "samosale", "SamoSale — внешняя бонусная программа: баллы начисляет и хранит она, хаб отражает.",
        base_url_required=True,
        base_url_help="Адрес API из кабинета SamoSale, вида https://…/api/v1.",
        webhook_fields=("webhook_secret",),
        fields=(
            Field("api_key", "API-ключ", "Кабинет SamoSale → Настройки → Интеграции → API-ключ.", secret=True,
                  required=True),
            Field("webhook_secret", "Секрет вебхука", "Кабинет SamoSale → Настройки → Вебхуки: секрет подписи.",
                  secret=True),
        ),
        check_hint="Проверьте адрес API и ключ в кабинете SamoSale.",
        webhook_where="Кабинет SamoSale → Настройки → Вебхуки: адрес — URL ниже; секрет подписи впишите в поле ниже.",
        real_test="Начислите клиенту баллы в кабинете SamoSale: событие появится ниже.",
    ),
    SystemSpec(
        "uds", "UDS — внешняя бонусная программа; изменения из UDS приходят ночной сверкой.",
        base_url_required=True, base_url_initial="https://api.uds.app/partner/v2",
        base_url_help="Обычно https://api.uds.app/partner/v2.",
        fields=(
            Field("company_id", "ID компании", "UDS Business → Настройки → Интеграция: ID компании.", required=True),
            Field("api_key", "API Key", "Там же: API Key.", secret=True, required=True),
        ),
        check_hint="Проверьте ID компании и API Key в UDS Business → Настройки → Интеграция.",
        real_test="UDS не присылает вебхуков: проведите покупку в UDS — после ночной сверки баланс обновится в хабе.",
    ),
    SystemSpec(
        "maxma", "MAXMA — внешняя бонусная программа с вебхуками о клиентах.",
        base_url_required=True, base_url_initial="https://api.cloudloyalty.ru",
        base_url_help="Обычно https://api.cloudloyalty.ru.",
        webhook_fields=("webhook_user", "webhook_password"),
        fields=(
            Field("processing_key", "Ключ процессинга", "MAXMA → Настройки → Интеграция (API): «Ключ процессинга».",
                  secret=True, required=True),
            Field("shop_code", "Код магазина", "Код точки продаж в MAXMA; по умолчанию hub.", setting=True),
            Field("shop_name", "Название магазина", "Как точка будет называться в MAXMA; по умолчанию «Хаб».",
                  setting=True),
            Field("webhook_user", "Пользователь вебхука", "Логин HTTP-авторизации, заданный в MAXMA → Настройки → "
                  "Вебхуки."),
            Field("webhook_password", "Пароль вебхука", "Там же: пароль HTTP-авторизации.", secret=True),
        ),
        check_hint="Проверьте ключ процессинга в MAXMA → Настройки → Интеграция.",
        webhook_where="MAXMA → Настройки → Вебхуки: адрес — URL ниже, HTTP-авторизация — логин и пароль из полей ниже.",
        real_test="Измените баланс клиента в MAXMA: событие появится ниже.",
    ),
    SystemSpec(
        "smsru", "SMS.ru — отправка SMS (рассылки, коды подтверждения) со статусами доставки.",
        base_url_help=RATE_NOTE,
        fields=(
            Field("api_id", "API-ключ (api_id)", "SMS.ru → Программистам → ваш api_id.", secret=True, required=True),
            Field("sender", "Имя отправителя", "Одобренное в SMS.ru → Отправители; пусто — общий отправитель.",
                  setting=True),
        ),
        check_hint="Проверьте api_id в кабинете SMS.ru (Программистам).",
        webhook_where="SMS.ru → Программистам → Callback (отчёты о доставке): добавьте URL ниже.",
        real_test="Отправьте себе тестовое сообщение из рассылок: статус доставки появится ниже.",
    ),
    SystemSpec(
        "smsc", "SMSC — отправка SMS со статусами доставки и входящими SMS.",
        base_url_help=RATE_NOTE,
        webhook_suffix="?charset=utf-8",
        fields=(
            Field("login", "Логин", "Логин в SMSC.", required=True),
            Field("password", "Пароль", "Пароль SMSC или отдельный пароль для API (Настройки → Пароль для API).",
                  secret=True, required=True),
            Field("sender", "Имя отправителя", "Зарегистрированное в SMSC → Имена отправителей; пусто — по умолчанию.",
                  setting=True),
        ),
        check_hint="Проверьте логин и пароль SMSC (для API может быть отдельный пароль).",
        webhook_where="SMSC → Настройки → «Callback-URL для статусов и входящих SMS»: URL ниже (с ?charset=utf-8).",
        real_test="Отправьте себе тестовое SMS из рассылок или ответьте на него: событие появится ниже.",
    ),
    SystemSpec(
        "greenapi", "Green-API — WhatsApp: рассылки, статусы и ответы клиентов.",
        base_url_help="Адрес API инстанса из консоли Green-API (apiUrl, например https://1103.api.green-api.com); "
                      "пусто — https://api.green-api.com.",
        webhook_fields=("webhook_token",),
        fields=(
            Field("id_instance", "idInstance", "console.green-api.com → ваш инстанс → idInstance.", required=True),
            Field("api_token", "apiTokenInstance", "Там же: apiTokenInstance.", secret=True, required=True),
            Field("webhook_token", "Webhook URL Token", "Придумайте и впишите в консоли: инстанс → Настройки → "
                  "Webhook URL Token; здесь — тот же.", secret=True),
        ),
        check_hint="Проверьте idInstance и apiTokenInstance и что инстанс авторизован (QR-код отсканирован).",
        webhook_where="console.green-api.com → инстанс → Настройки: Webhook URL — URL ниже; включите уведомления "
                      "о входящих сообщениях и о статусах отправленных; Webhook URL Token — как в поле ниже.",
        real_test="Напишите на номер WhatsApp инстанса: входящее сообщение появится ниже.",
    ),
    SystemSpec(
        "wazzup", "Wazzup — WhatsApp через Wazzup: рассылки, статусы и ответы клиентов.",
        base_url_help=RATE_NOTE,
        webhook_fields=("crm_key",),
        fields=(
            Field("api_key", "Ключ API", "Wazzup → Интеграции → API → «Ключ API».", secret=True, required=True),
            Field("channel_id", "ID канала WhatsApp", "Пусто — проверка связи покажет каналы этого ключа; "
                  "скопируйте нужный.", setting=True),
            Field("crm_key", "crmKey вебхуков", "Ключ, с которым Wazzup подписывает вебхуки (Authorization: Bearer); "
                  "задаётся при подписке на вебхуки.", secret=True),
        ),
        check_hint="Проверьте ключ API и ID канала; канал должен быть активен (телефон в сети).",
        webhook_where="Вебхуки Wazzup включаются через его API: PATCH https://api.wazzup24.com/v3/webhooks с "
                      "webhooksUri = URL ниже, crmKey = ключ из поля ниже и подпиской на сообщения и статусы.",
        real_test="Напишите на номер WhatsApp канала: входящее сообщение появится ниже.",
    ),
    SystemSpec(
        "email", "E-mail через SMTP — письма рассылок.",
        base_url_help=None,
        fields=(
            Field("host", "SMTP-сервер", "Например smtp.yandex.ru.", setting=True, required=True),
            Field("port", "Порт", "587 для STARTTLS, 465 для SSL.", setting=True, kind="int"),
            Field("use_tls", "STARTTLS", "Включите для порта 587.", setting=True, kind="bool"),
            Field("from_email", "Адрес отправителя", "От кого приходят письма, например «Парк <info@park.ru>».",
                  setting=True, required=True),
            Field("username", "Логин SMTP", "Обычно адрес ящика."),
            Field("password", "Пароль SMTP", "Пароль приложения из настроек почты (не основной пароль).",
                  secret=True),
        ),
        check_hint="Проверьте сервер, порт, STARTTLS и пароль приложения.",
        real_test="Отправьте себе письмо из рассылок (шаблон → «Предпросмотр» → отправить).",
    ),
)}


def spec_for(system: str) -> SystemSpec | None:
    return SPECS.get(system)
